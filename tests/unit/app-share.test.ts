// Share links: round trip (compressed and plain), and refusal of everything that is not a valid state:
// a damaged or foreign token, unknown versions, model ids that are paths out of the models folder or
// markup, unknown presets, invalid allocations, zip bombs. Expected payloads are written by hand.
import { describe, expect, it } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { base64urlDecode, base64urlEncode, decodeShare, encodeShare, parseModelId, shareTokenOf, shareUrl, type SharePayload } from '../../src/app/share.ts';

const allocation = {
  schema: 'layerlab.allocation/1' as const,
  model: { name: 'stories260K', arch: 'llama', nLayers: 5 },
  layers: { '0': { format: 'Q8_0' }, '3': { drop: 'attn' as const } },
};
const payload: SharePayload = { v: 1, model: 'stories260K/stories260K.bin', preset: 'code', allocation };
const tok = (o: unknown, z = false) => (z ? 'z' + base64urlEncode(deflateRawSync(Buffer.from(JSON.stringify(o)))) : 'j' + base64urlEncode(new TextEncoder().encode(JSON.stringify(o))));

describe('share links', () => {
  it('round-trips compressed and plain; the compressed token is deflate-raw readable by zlib', async () => {
    for (const compress of [true, false]) {
      const t = await encodeShare(payload, { compress });
      expect(t[0]).toBe(compress ? 'z' : 'j');
      expect(await decodeShare(t)).toEqual({ ok: true, payload });
    }
    const z = await encodeShare(payload);
    const { inflateRawSync } = await import('node:zlib');
    expect(JSON.parse(inflateRawSync(Buffer.from(base64urlDecode(z.slice(1)))).toString())).toEqual(payload);
    // a token made by zlib (another implementation) decodes too
    expect(await decodeShare(tok(payload, true))).toEqual({ ok: true, payload });
  });

  it('lives in the hash; other hash parts are ignored', () => {
    const url = shareUrl('https://x.org/demo/index.html?a=1#old', 'zABC');
    expect(url).toBe('https://x.org/demo/index.html?a=1#s=zABC');
    expect(shareTokenOf(url)).toBe('zABC');
    expect(shareTokenOf('https://x.org/#foo=1&s=jXYZ')).toBe('jXYZ');
    expect(shareTokenOf('https://x.org/')).toBeNull();
  });

  it('model ids: catalog paths and hub repos only', () => {
    expect(parseModelId('stories260K/stories260K.bin')).toEqual({ kind: 'catalog', key: 'stories260K/stories260K.bin' });
    expect(parseModelId('hf:Xenova/llama2.c-stories15M')).toEqual({ kind: 'hub', repo: 'Xenova/llama2.c-stories15M' });
    for (const bad of ['../etc/passwd.bin', '/abs/x.gguf', 'a/../b.gguf', 'https://evil.example/x.gguf', 'x.exe', '<img src=x onerror=alert(1)>.gguf', 'hf:a/b/c', 'hf:../x', '']) {
      expect(parseModelId(bad), bad).toBeNull();
    }
  });

  it('refuses damaged, foreign and invalid links with a message', async () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['q' + 'A'.repeat(10), /unknown encoding/],
      ['j!!!', /damaged/],
      ['z' + base64urlEncode(new Uint8Array([1, 2, 3, 4, 5])), /damaged/],
      [tok([1, 2]), /does not hold/],
      [tok({ ...payload, v: 2 }), /version 2/],
      [tok({ ...payload, model: '../../secret.bin' }), /model id this page does not accept/],
      [tok({ ...payload, model: '<script>alert(1)</script>' }), /model id/],
      [tok({ ...payload, preset: 'poetry' }), /unknown calibration preset/],
      [tok({ ...payload, allocation: { ...allocation, layers: { '0': { format: 'Q9_9' } } } }), /allocation is not valid: layers.0.format/],
      [tok({ ...payload, allocation: { schema: 'other' } }), /allocation is not valid/],
      [tok({ ...payload, extra: 1 }), /unknown field "extra"/],
      [tok({ ...payload, file: 'x.gguf' }), /bad repo file/],
      ['j' + 'A'.repeat(70_000), /too long/],
    ];
    for (const [t, re] of cases) {
      const r = await decodeShare(t);
      expect(r.ok, t.slice(0, 40)).toBe(false);
      if (!r.ok) expect(r.error).toMatch(re);
    }
  });

  it('a zip bomb stops at the size limit', async () => {
    const big = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 32));
    const r = await decodeShare('z' + base64urlEncode(big));
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/damaged .*larger than 1048576 bytes/) });
  });
});
