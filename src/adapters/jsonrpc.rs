//! JSON-RPC 2.0 adapter (feature `jsonrpc`): admitted commands go to a
//! jsonrpsee [`RpcModule`](jsonrpsee::RpcModule) as JSON-RPC requests, and
//! its responses come back as replies. The module does not know isogate
//! exists; it is called as a JSON-RPC server would call it.
//!
//! | isogate | JSON-RPC 2.0 |
//! |---|---|
//! | call `id` | request `id` (a number) |
//! | `cmd` | `method` |
//! | `args` (an object) | `params`, by name (`params.parse::<YourStruct>()`) |
//! | binary body | none: a call with a body gets the error `{"code":-32602,"message":"Invalid params"}` without reaching the module |
//! | reply `ok: true, result` | response `result` |
//! | reply `ok: false, error` | response `error`, the whole error object (`code`, `message`, `data`) |
//!
//! Subscriptions are not supported (a window has no push channel here);
//! use gate events and your own host-to-window channel.
//!
//! ```
//! use isogate::adapters::jsonrpc::JsonRpc;
//! use isogate::CallRequest;
//! use jsonrpsee::RpcModule;
//! use isogate::Object;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut module = RpcModule::new(());
//! module.register_method("greet", |params, _, _| {
//!     let name: String = params.sequence().next().unwrap_or_default();
//!     format!("Hello, {name}!")
//! })?;
//! let rpc = JsonRpc::new(module);
//! let call = CallRequest {
//!     id: 7,
//!     cmd: "greet".into(),
//!     args: Object::default(),
//!     body: Vec::new(),
//!     window: "main".into(),
//!     origin: "app://localhost".into(),
//!     load_id: 1,
//! };
//! assert_eq!(
//!     JsonRpc::request_json(&call).ok().as_deref(),
//!     Some(r#"{"jsonrpc":"2.0","id":7,"method":"greet","params":{}}"#)
//! );
//! # Ok(())
//! # }
//! ```

use crate::gate::{Admitted, CallRequest, Gate, Reply, Router, Sender, Wire};
use crate::message::Object;
use jsonrpsee::Methods;
use serde_json::{json, Value};

/// JSON-RPC "Invalid params".
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC "Internal error".
pub const INTERNAL_ERROR: i64 = -32603;

/// A jsonrpsee module (or merged [`Methods`]) as the router of a gate.
#[derive(Clone)]
pub struct JsonRpc {
    methods: Methods,
}

impl std::fmt::Debug for JsonRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.methods.method_names().collect();
        names.sort_unstable();
        f.debug_struct("JsonRpc").field("methods", &names).finish()
    }
}

/// A JSON-RPC 2.0 request, members in the order the specification shows.
#[derive(serde::Serialize)]
struct RpcRequest<'a> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    params: &'a Object<'a>,
}

fn error_object(code: i64, message: &str) -> Value {
    json!({"code": code, "message": message})
}

impl JsonRpc {
    /// Wraps a module: `RpcModule<Ctx>` or `Methods`.
    pub fn new(methods: impl Into<Methods>) -> Self {
        Self {
            methods: methods.into(),
        }
    }

    /// The wrapped methods.
    pub fn methods(&self) -> &Methods {
        &self.methods
    }

    /// The JSON-RPC request for an admitted call:
    /// `{"jsonrpc":"2.0","id":<id>,"method":<cmd>,"params":<args>}`. A call
    /// with a binary body has no JSON-RPC form: the error is the reply's
    /// error object.
    pub fn request_json(call: &CallRequest) -> Result<String, Value> {
        if !call.body.is_empty() {
            return Err(error_object(INVALID_PARAMS, "Invalid params"));
        }
        let request = RpcRequest {
            jsonrpc: "2.0",
            id: call.id,
            method: &call.cmd,
            params: &call.args,
        };
        serde_json::to_string(&request).map_err(|_| error_object(INTERNAL_ERROR, "Internal error"))
    }

    /// The reply result for a JSON-RPC response to request `id`: `result`
    /// becomes `Ok`, `error` becomes `Err` with the error object as is.
    /// Anything else (no such member, another id) is an internal error.
    pub fn result_from_response(id: u64, response: &str) -> Result<Value, Value> {
        let internal = || error_object(INTERNAL_ERROR, "Internal error");
        let Ok(Value::Object(mut response)) = serde_json::from_str::<Value>(response) else {
            return Err(internal());
        };
        if response.get("jsonrpc") != Some(&json!("2.0")) || response.get("id") != Some(&json!(id))
        {
            return Err(internal());
        }
        match (response.remove("result"), response.remove("error")) {
            (Some(result), None) => Ok(result),
            (None, Some(error)) if error.is_object() => Err(error),
            _ => Err(internal()),
        }
    }

    /// Runs one admitted call through the module.
    pub async fn call(&self, call: &CallRequest) -> Result<Value, Value> {
        let request = Self::request_json(call)?;
        match self.methods.raw_json_request(&request, 1).await {
            Ok((response, _subscription)) => Self::result_from_response(call.id, response.get()),
            Err(_) => Err(error_object(INTERNAL_ERROR, "Internal error")),
        }
    }

    /// [`Gate::handle`] for this router: checks one envelope with `gate`
    /// ([`Gate::check`]), runs an admitted command through the module,
    /// delivers an admitted event to the gate's listeners. `None` for
    /// discards (audited) and events.
    pub async fn handle<'w, R: Router>(
        &self,
        gate: &Gate<R>,
        sender: Sender<'_>,
        wire: impl Into<Wire<'w>>,
    ) -> Option<Reply> {
        match gate.check(sender, wire).ok()? {
            Admitted::Call(call) => Some(Reply {
                id: call.id,
                result: self.call(&call).await,
            }),
            event @ Admitted::Event(_) => gate.dispatch(&event),
        }
    }
}

/// With the `tower` feature too, the adapter is the inner service of
/// [`GateLayer`](crate::adapters::tower::GateLayer).
#[cfg(feature = "tower")]
impl tower::Service<CallRequest> for JsonRpc {
    type Response = Value;
    type Error = Value;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, Value>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Value>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: CallRequest) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.call(&call).await })
    }
}
