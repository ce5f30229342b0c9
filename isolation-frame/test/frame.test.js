'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const f = require('../frame.js');

const hex = (b) => Buffer.from(b).toString('hex');
const text = (b) => new TextDecoder().decode(b);

test('encodeHeader: version, window_len, window, origin_len u16 BE, origin', () => {
  assert.equal(hex(f.encodeHeader('main', 'http://127.0.0.1:8917')),
    '01' + '04' + hex(Buffer.from('main')) + '0015' + hex(Buffer.from('http://127.0.0.1:8917')));
  const label = 'fenêtre'; // UTF-8 length counts bytes, not characters
  const h = f.encodeHeader(label, 'https://a.example');
  assert.equal(h[1], Buffer.byteLength(label));
  const long = 'https://' + 'a'.repeat(300);
  const h2 = f.encodeHeader('w', long);
  assert.deepEqual([...h2.slice(3, 5)], [long.length >> 8, long.length & 0xff]);
});

test('encodeHeader rejects out-of-range labels and origins', () => {
  assert.throws(() => f.encodeHeader('', 'http://x'));
  assert.throws(() => f.encodeHeader('a'.repeat(129), 'http://x'));
  assert.doesNotThrow(() => f.encodeHeader('a'.repeat(128), 'http://x'));
  assert.throws(() => f.encodeHeader('main', ''));
  assert.throws(() => f.encodeHeader('main', 'h'.repeat(1025)));
  assert.throws(() => f.encodeHeader('main', 'http://é.example'));
});

test('buildPlaintext: u32 BE json_len || JSON || body', () => {
  const m = { kind: 'invoke', id: 7, cmd: 'save', args: { a: 1 } };
  const p = f.buildPlaintext(m, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  const json = '{"kind":"invoke","id":7,"cmd":"save","args":{"a":1}}';
  const len = new DataView(p.buffer).getUint32(0);
  assert.equal(len, json.length);
  assert.equal(text(p.slice(4, 4 + len)), json);
  assert.equal(hex(p.slice(4 + len)), 'deadbeef');
  assert.equal(p.length, 4 + len + 4);
  // ArrayBuffer body, and no body at all
  assert.equal(hex(f.buildPlaintext(m, new Uint8Array([1, 2]).buffer).slice(4 + len)), '0102');
  assert.equal(f.buildPlaintext(m).length, 4 + len);
  assert.equal(f.buildPlaintext(m, null).length, 4 + len);
});

test('buildPlaintext: fixed key order, extra fields dropped', () => {
  const inv = { args: { x: [1, 'two', null, true] }, extra: 1, cmd: 'c', id: 3, kind: 'invoke', body: 'no' };
  const p1 = f.buildPlaintext(inv);
  assert.equal(text(p1.slice(4)), '{"kind":"invoke","id":3,"cmd":"c","args":{"x":[1,"two",null,true]}}');
  const em = { payload: { id: 3 }, event: 'note-opened', kind: 'emit', id: 9 };
  assert.equal(text(f.buildPlaintext(em).slice(4)), '{"kind":"emit","event":"note-opened","payload":{"id":3}}');
  assert.equal(text(f.buildPlaintext({ kind: 'emit', event: 'e', payload: null }).slice(4)),
    '{"kind":"emit","event":"e","payload":null}');
});

test('buildPlaintext: emit must not carry a body, invalid messages throw', () => {
  assert.throws(() => f.buildPlaintext({ kind: 'emit', event: 'e', payload: 1 }, new Uint8Array([1])));
  assert.throws(() => f.buildPlaintext({ kind: 'nope' }));
  assert.throws(() => f.buildPlaintext({ kind: 'invoke', id: 1, cmd: 'c', args: {} }, 'text'));
  assert.throws(() => f.buildPlaintext({ kind: 'invoke', id: 1, cmd: 'c', args: {} }, [1, 2]));
});

test('validateMessage accepts the two wire shapes', () => {
  assert.deepEqual(f.validateMessage({ kind: 'invoke', id: 0, cmd: 'plugin:fs|read_file', args: {} }),
    { kind: 'invoke', id: 0, cmd: 'plugin:fs|read_file', args: {} });
  assert.ok(f.validateMessage({ kind: 'invoke', id: Number.MAX_SAFE_INTEGER, cmd: 'a/b.c-d_e', args: {} }));
  assert.ok(f.validateMessage({ kind: 'emit', event: 'e', payload: [1, { a: 'b' }] }));
  assert.ok(f.validateMessage(Object.assign(Object.create(null), { kind: 'emit', event: 'e', payload: 1 })));
  // "__proto__" stays an ordinary key
  const args = JSON.parse('{"__proto__":{"x":1}}');
  const v = f.validateMessage({ kind: 'invoke', id: 1, cmd: 'c', args });
  assert.equal(JSON.stringify(v.args), '{"__proto__":{"x":1}}');
});

test('validateMessage rejects bad shapes', () => {
  const ok = { kind: 'invoke', id: 1, cmd: 'greet', args: {} };
  const bad = [
    null, undefined, 'str', 42, [], [ok],
    { ...ok, kind: 'Invoke' }, { ...ok, kind: 'call' }, { ...ok, kind: undefined },
    { ...ok, id: 1.5 }, { ...ok, id: -1 }, { ...ok, id: '1' }, { ...ok, id: NaN },
    { ...ok, id: Number.MAX_SAFE_INTEGER + 1 }, { ...ok, id: undefined },
    { ...ok, cmd: '' }, { ...ok, cmd: 'a b' }, { ...ok, cmd: 'x'.repeat(129) }, { ...ok, cmd: 5 },
    { ...ok, args: [] }, { ...ok, args: null }, { ...ok, args: 'x' }, { ...ok, args: undefined },
    { ...ok, args: new Date() }, { ...ok, args: new Map() }, { ...ok, args: { f() {} } },
    { ...ok, args: { n: NaN } }, { ...ok, args: { n: Infinity } }, { ...ok, args: { b: 1n } },
    { ...ok, args: { u: undefined } }, { ...ok, args: { d: new Uint8Array(2) } },
    { kind: 'emit', event: 'e' }, { kind: 'emit', event: '', payload: 1 },
    { kind: 'emit', event: 'bad event', payload: 1 }, { kind: 'emit', event: 'e', payload: undefined },
    { kind: 'emit', event: 'e', payload: () => 1 },
  ];
  for (const m of bad) assert.equal(f.validateMessage(m), null, JSON.stringify(m, (k, v) => typeof v === 'bigint' ? 'big' : v));
  class Args {}
  assert.equal(f.validateMessage({ ...ok, args: new Args() }), null);
  const cyclic = {};
  cyclic.self = cyclic;
  assert.equal(f.validateMessage({ ...ok, args: cyclic }), null);
});

test('validateMessage returns a detached copy', () => {
  const args = { list: [1, 2] };
  const v = f.validateMessage({ kind: 'invoke', id: 1, cmd: 'c', args });
  args.list.push(3);
  assert.deepEqual(v.args, { list: [1, 2] });
  let n = 0;
  const tricky = { get x() { return ++n; } };
  const t = f.validateMessage({ kind: 'invoke', id: 1, cmd: 'c', args: tricky });
  assert.equal(JSON.stringify(t.args), JSON.stringify(t.args)); // stable, read once
  assert.equal(n, 1);
});

test('base64url round trip, both alphabets, padding', () => {
  for (let len = 0; len < 40; len++) {
    const b = new Uint8Array(len).map((_, i) => (i * 37 + len * 11) & 0xff);
    const s = f.base64urlEncode(b);
    assert.equal(s, Buffer.from(b).toString('base64url'));
    assert.deepEqual([...f.base64urlDecode(s)], [...b]);
    assert.deepEqual([...f.base64urlDecode(Buffer.from(b).toString('base64'))], [...b]);
  }
  assert.throws(() => f.base64urlDecode('a!b'));
  assert.throws(() => f.base64urlDecode('abcde'));
});
