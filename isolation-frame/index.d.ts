// Type declarations for isogate-frame (shim.js, and the hook contract of frame.js).

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

export type JsonObject = { [key: string]: JsonValue };

/** A command: one reply, correlated by `id`. Wire shape: docs/WIRE.md section 4. */
export interface InvokeMessage {
  kind: 'invoke';
  /** Integer in 0..=Number.MAX_SAFE_INTEGER. */
  id: number;
  /** 1..=128 characters from `A-Z a-z 0-9 _ - . : | /`. */
  cmd: string;
  args: JsonObject;
}

/** An event: no reply, never a body. */
export interface EmitMessage {
  kind: 'emit';
  /** Same alphabet and length as `cmd`. */
  event: string;
  payload: JsonValue;
}

export type Message = InvokeMessage | EmitMessage;

export interface HookContext {
  /** Label of the window this isolation frame belongs to. */
  window: string;
  /** Top-level origin of that window, e.g. `http://127.0.0.1:8917`. */
  origin: string;
}

/**
 * App hook run inside the isolation frame (`window.__ISOGATE_HOOK__`).
 * Return the (possibly modified) message to seal it; return `null` (or
 * `undefined`), throw, or reject to drop it: the caller then times out.
 * Define it when the hook script runs: a frame rendered with a hook seals
 * nothing, and never becomes ready, unless a hook is defined by the time its
 * document is parsed.
 */
export type IsogateHook = (
  message: Message,
  ctx: HookContext,
) => Message | null | Promise<Message | null>;

/** What a Tauri-style `__TAURI_ISOLATION_HOOK__` receives and returns. */
export interface TauriIsolationPayload {
  /** The command name; `'plugin:event|emit'` for events. */
  cmd: string;
  /** The command's args; `{event, payload}` for events. */
  payload: unknown;
}

/**
 * A hook written for Tauri's Isolation pattern (`window.__TAURI_ISOLATION_HOOK__`),
 * used unchanged. Tauri 2 hooks may declare a second parameter; isogate never
 * passes one (it is `undefined`). The same fail-closed rule as `IsogateHook`.
 */
export type TauriIsolationHook = (
  payload: TauriIsolationPayload,
  options?: any,
) => TauriIsolationPayload | null | Promise<TauriIsolationPayload | null>;

/** A reply of the core (docs/WIRE.md section 6), in clear. */
export type Reply<T = unknown, E = unknown> =
  | { id: number; ok: true; result: T }
  | { id: number; ok: false; error: E };

/** Host transport: forwards one envelope; resolves to the reply, or null when it comes later via `deliver`. */
export type Transport = (envelope: Uint8Array) => Promise<Reply | null> | Reply | null;

/** A core-to-window event pushed by the host. */
export interface CoreEvent<T = unknown> {
  event: string;
  payload: T;
}

export type UnlistenFn = () => void;

export type Body = ArrayBuffer | Uint8Array;

export interface InitOptions {
  /** URL of the isolation frame document rendered by the core. */
  frameUrl: string;
  send: Transport;
  /** Where the hidden iframe is appended; defaults to `document.body`. */
  container?: Element;
}

export interface InvokeOptions {
  /** Overall deadline of the call in ms (default 5000). */
  timeout?: number;
}

/** Main frame to isolation frame. */
export interface SealRequest {
  isogate: 1;
  type: 'seal';
  ref: number;
  message: Message;
  body: Body | null;
}

/** Isolation frame to main frame. */
export type FrameMessage =
  /** Key imported (and, for a frame rendered with a hook, the hook defined). */
  | { isogate: 1; type: 'ready' }
  | { isogate: 1; type: 'sealed'; ref: number; envelope: ArrayBuffer };

export interface Isogate {
  /**
   * Creates the sandboxed iframe; resolves once the frame is ready: its key
   * imported and, for a frame rendered with a hook, the hook defined (never,
   * if the hook script failed).
   */
  init(options: InitOptions): Promise<void>;
  /** Low level: has the frame seal one message. Rejects with `Error('isogate: timeout')` after 5000 ms. */
  seal(message: Message, body?: Body | null): Promise<Uint8Array>;
  /** Low level: hands an envelope to the transport. */
  send(envelope: Uint8Array): Promise<Reply | null>;
  /**
   * Calls a command. Bytes as `args` travel as the binary body (args `{}`).
   * Resolves with `result`, rejects with the router's `error`; every other
   * failure rejects with the same `Error('isogate: timeout')`.
   */
  invoke<T = unknown>(cmd: string, args?: JsonObject | Body, options?: InvokeOptions): Promise<T>;
  /** Sends an event; rejects only with `Error('isogate: timeout')`. */
  emit(event: string, payload?: JsonValue): Promise<void>;
  /** Settles the pending invoke with `reply.id` (asynchronous transports). */
  deliver(reply: Reply): void;
  listen<T = unknown>(event: string, handler: (payload: T) => void): UnlistenFn;
  /** Calls the handlers registered for `event.event`. */
  deliverEvent(event: CoreEvent): void;
}

export interface ClientOptions {
  postToFrame(request: SealRequest): void;
  send: Transport;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: any) => void;
}

/** The DOM-free core of the shim. */
export interface Client extends Omit<Isogate, 'init'> {
  /** Resolves when the frame reported `ready`. */
  ready: Promise<void>;
  /** Feed it `event.data` of messages already checked to come from the frame. */
  handleFrameMessage(data: unknown): void;
}

export function createClient(options: ClientOptions): Client;
export function createIsogate(win: Window): Isogate;

declare global {
  interface Window {
    isogate: Isogate;
    __ISOGATE_HOOK__?: IsogateHook;
    __TAURI_ISOLATION_HOOK__?: TauriIsolationHook;
  }
}
