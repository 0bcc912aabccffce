/** Builds a minimal, checksummed Ogg stream: an identification page, then one audio page with `lastGranule`. */
export function oggOpusFixture(spec: {
  preSkip: number;
  lastGranule: number;
  channels: number;
  head?: string;
}): Uint8Array {
  const head = new Uint8Array(19);
  head.set([...(spec.head ?? 'OpusHead')].map((c) => c.charCodeAt(0)));
  head[8] = 1;
  head[9] = spec.channels;
  new DataView(head.buffer).setUint16(10, spec.preSkip, true);
  new DataView(head.buffer).setUint32(12, 48_000, true);
  const pages = [page(head, 0, 0, 0x02), page(new Uint8Array(10).fill(7), spec.lastGranule, 1, 0x04)];
  return new Uint8Array(pages.flatMap((p) => [...p]));
}

function page(body: Uint8Array, granule: number, sequence: number, flags: number): Uint8Array {
  const out = new Uint8Array(27 + 1 + body.length);
  const view = new DataView(out.buffer);
  out.set([0x4f, 0x67, 0x67, 0x53]);
  out[5] = flags;
  view.setBigInt64(6, BigInt(granule), true);
  view.setUint32(14, 0x1234, true);
  view.setUint32(18, sequence, true);
  out[26] = 1;
  out[27] = body.length;
  out.set(body, 28);
  view.setUint32(22, crc(out), true);
  return out;
}

function crc(bytes: Uint8Array): number {
  let r = 0;
  for (const byte of bytes) {
    r ^= byte << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    r >>>= 0;
  }
  return r;
}
