import { canonicalJson, requestFingerprint } from './idempotency.service';

describe('requestFingerprint', () => {
  it('is the same for the same body written in another key order, at every level', () => {
    const a = { model: 'm', messages: [{ role: 'user', content: 'Hi' }], meta: { b: 1, a: [2, { y: 1, x: 2 }] } };
    const b = { meta: { a: [2, { x: 2, y: 1 }], b: 1 }, messages: [{ content: 'Hi', role: 'user' }], model: 'm' };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(requestFingerprint('POST', '/v1/chat/stream', a)).toBe(requestFingerprint('post', '/v1/chat/stream', b));
    expect(requestFingerprint('POST', '/v1/chat/stream', a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs when a value, the array order, the path or the method differs', () => {
    const base = requestFingerprint('POST', '/v1/chat/stream', { messages: ['a', 'b'] });
    expect(requestFingerprint('POST', '/v1/chat/stream', { messages: ['b', 'a'] })).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/chat/stream', { messages: ['a', 'b'], stream: false })).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/chat/sessions', { messages: ['a', 'b'] })).not.toBe(base);
    expect(requestFingerprint('PUT', '/v1/chat/stream', { messages: ['a', 'b'] })).not.toBe(base);
  });

  it('tells strings from numbers and escapes keys', () => {
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ 'a"b': null })).toBe('{"a\\"b":null}');
    expect(canonicalJson(undefined)).toBe('null');
  });
});
