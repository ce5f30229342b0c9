'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const nodeCrypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const f = require('../frame.js');

const { subtle } = globalThis.crypto;
const hex = (b) => Buffer.from(b).toString('hex');
const KEY_BYTES = new Uint8Array(32).map((_, i) => i);

function importKey(usages) {
  return subtle.importKey('raw', KEY_BYTES, { name: 'AES-GCM' }, false, usages);
}

// Splits an envelope per WIRE.md section 2.
function parseEnvelope(env) {
  const wlen = env[1];
  const olen = (env[2 + wlen] << 8) | env[3 + wlen];
  const headerEnd = 4 + wlen + olen + 12;
  return {
    window: Buffer.from(env.slice(2, 2 + wlen)).toString(),
    origin: Buffer.from(env.slice(4 + wlen, 4 + wlen + olen)).toString(),
    nonce: env.slice(headerEnd - 12, headerEnd),
    aad: env.slice(0, headerEnd),
    sealed: env.slice(headerEnd),
  };
}

const MSG = { kind: 'invoke', id: 1, cmd: 'greet', args: { name: 'Ada' } };

test('seal round trip: decrypts with the header as AAD', async () => {
  const enc = await importKey(['encrypt']);
  const dec = await importKey(['decrypt']);
  const header = f.encodeHeader('main', 'http://127.0.0.1:8917');
  const body = new Uint8Array([1, 2, 3, 250]);
  const env = await f.sealWithKey(enc, header, 0xfeedbeef, 2 ** 40 + 5, MSG, body);
  const p = parseEnvelope(env);
  assert.equal(p.window, 'main');
  assert.equal(p.origin, 'http://127.0.0.1:8917');
  assert.equal(hex(p.nonce), 'feedbeef' + '0000010000000005');
  assert.equal(p.sealed.length, f.buildPlaintext(MSG, body).length + 16);
  const pt = await subtle.decrypt({ name: 'AES-GCM', iv: p.nonce, additionalData: p.aad, tagLength: 128 }, dec, p.sealed);
  assert.equal(hex(new Uint8Array(pt)), hex(f.buildPlaintext(MSG, body)));
});

test('changing any header byte makes decryption fail', async () => {
  const enc = await importKey(['encrypt']);
  const dec = await importKey(['decrypt']);
  const header = f.encodeHeader('main', 'http://127.0.0.1:8917');
  const env = await f.sealWithKey(enc, header, 1, 0, MSG);
  const p = parseEnvelope(env);
  for (let i = 0; i < p.aad.length; i++) {
    const aad = p.aad.slice();
    aad[i] ^= 1;
    const iv = aad.slice(aad.length - 12);
    await assert.rejects(subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, dec, p.sealed), `byte ${i}`);
  }
  // and a different window label in the AAD
  const other = new Uint8Array([...f.encodeHeader('evil', 'http://127.0.0.1:8917'), ...p.nonce]);
  await assert.rejects(subtle.decrypt({ name: 'AES-GCM', iv: p.nonce, additionalData: other }, dec, p.sealed));
});

test('sealWithKey rejects bad load ids, seqs and messages', async () => {
  const enc = await importKey(['encrypt']);
  const header = f.encodeHeader('main', 'http://x');
  await assert.rejects(f.sealWithKey(enc, header, -1, 0, MSG));
  await assert.rejects(f.sealWithKey(enc, header, 2 ** 32, 0, MSG));
  await assert.rejects(f.sealWithKey(enc, header, 1, 2 ** 53, MSG));
  await assert.rejects(f.sealWithKey(enc, header, 1, -1, MSG));
  await assert.rejects(f.sealWithKey(enc, header, 1, 0, { kind: 'invoke' }));
  const env = await f.sealWithKey(enc, header, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER, MSG);
  assert.equal(hex(parseEnvelope(env).nonce), 'ffffffff' + '001fffffffffffff');
});

test('known answer (WIRE.md section 9), cross-checked with node:crypto and known-answer.txt', async () => {
  const enc = await importKey(['encrypt']);
  const header = f.encodeHeader('main', 'http://127.0.0.1:8917');
  const plaintext = f.buildPlaintext(MSG, new Uint8Array(0));
  const env = await f.sealWithKey(enc, header, 1, 0, MSG, new Uint8Array(0));

  const HEADER = '01046d61696e0015687474703a2f2f3132372e302e302e313a38393137';
  const PLAINTEXT = '0000003c7b226b696e64223a22696e766f6b65222c226964223a312c22636d64223a226772656574222c2261726773223a7b226e616d65223a22416461227d7d';
  const ENVELOPE = '01046d61696e0015687474703a2f2f3132372e302e302e313a38393137000000010000000000000000'
    + '4436cd9677789fc1315847aa8bd45bf60854ace2f2d6556a93a6b1ba2c0e53b4deeca802b38048e201772a56abb9f1a590f8'
    + '9ae47dc3d8bb1e0a3ea1f87682bd4dcd98df030bf44b3c69dc098eacbdc5';
  assert.equal(hex(header), HEADER);
  assert.equal(hex(plaintext), PLAINTEXT);
  assert.equal(hex(env), ENVELOPE);

  // Independent AES-GCM implementation path.
  const nonce = Buffer.from('000000010000000000000000', 'hex');
  const c = nodeCrypto.createCipheriv('aes-256-gcm', Buffer.from(KEY_BYTES), nonce);
  c.setAAD(Buffer.concat([Buffer.from(header), nonce]));
  const sealed = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  assert.equal(HEADER + hex(nonce) + hex(sealed), ENVELOPE);

  const file = fs.readFileSync(path.join(__dirname, 'known-answer.txt'), 'utf8');
  const field = (name) => file.match(new RegExp(`^${name}: ?(.*)$`, 'm'))[1];
  assert.equal(field('header_prefix'), HEADER);
  assert.equal(field('aad'), HEADER + hex(nonce));
  assert.equal(field('plaintext'), PLAINTEXT);
  assert.equal(field('envelope'), ENVELOPE);
  assert.equal(field('key'), hex(KEY_BYTES));
  assert.equal(field('key_base64url'), f.base64urlEncode(KEY_BYTES));
  assert.equal(field('message'), JSON.stringify(MSG));
});
