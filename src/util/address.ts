// The one set of address parsers on the TypeScript side (configs, recipes, labs, descriptor
// checks, and the compiler's address fields, which reach the engine typed: src/graph/types.ts).
// They accept exactly what inet_pton(3) accepts, as does the one native parser of text that
// arrives at run time (native/address.h: handlers, route files); test/address.test.ts checks
// both against libc on a table of inputs.
//
// IPv4 addresses are numbers (0 to 2^32-1), IPv6 addresses bigints (0 to 2^128-1).

/** A dotted-quad IPv4 address as inet_pton reads it: four decimal parts 0-255, no leading zeros. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    // inet_pton refuses '01' (it could be read as octal by inet_aton).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    v = v * 256 + Number(p);
  }
  return v;
}

/** An IPv6 address in any RFC 4291 text form, embedded IPv4 included ('::ffff:198.18.0.1',
 *  '64:ff9b::198.18.0.1', '1:2:3:4:5:6:198.18.0.1'), as inet_pton reads it. */
export function parseIPv6(text: string): bigint | undefined {
  let s = text;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  if (s.includes('.', lastColon)) {
    // The last group is an embedded IPv4 address: two groups.
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [Math.floor(v4 / 65536), v4 % 65536];
    s = s.slice(0, lastColon + 1);
    // 'a:b:1.2.3.4' leaves 'a:b:' (drop the separator); '::1.2.3.4' leaves '::' (keep it).
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]);
  const back = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !back) return undefined;
  // Without '::' the head alone must be complete (no empty text before an embedded IPv4).
  if (halves.length === 1 && halves[0] === '') return undefined;
  const known = head.length + back.length + tail.length;
  // '::' stands for at least one zero group.
  if (halves.length === 2 ? known > 7 : known !== 8) return undefined;
  const all = [...head, ...new Array<number>(8 - known).fill(0), ...back, ...tail];
  return all.reduce((a, g) => (a << 16n) | BigInt(g), 0n);
}

/** An Ethernet address as the native side reads it: six colon-separated pairs of hex digits. */
export function parseMac(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return text.split(':').map((x) => parseInt(x, 16));
}

/** IPv4 as dotted-quad text. */
export function formatIPv4(v: number | bigint): string {
  const n = Number(v);
  return `${Math.floor(n / 2 ** 24)}.${Math.floor(n / 2 ** 16) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/** IPv6 as inet_ntop prints it (RFC 5952: lower case, the longest run of two or more zero groups
 *  shortened to '::', the first such run on a tie; ::ffff:a.b.c.d and ::a.b.c.d for IPv4-mapped
 *  and -compatible addresses). */
export function formatIPv6(v: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
    const d = `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
    return bestLen === 5 ? `::ffff:${d}` : `::${d}`;
  }
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The network mask of a prefix length, as a bigint of `width` bits. */
export function maskOf(width: 32 | 128, len: number): bigint {
  return len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(width - len);
}

/** An address of either family, with its width. */
export function parseIP(text: string): { width: 32 | 128; addr: bigint } | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { width: 32, addr: BigInt(v4) };
  const v6 = parseIPv6(text);
  return v6 === undefined ? undefined : { width: 128, addr: v6 };
}

export interface Prefix {
  width: 32 | 128;
  /** The address as written (host bits included). */
  addr: bigint;
  len: number;
  /** The address with the host bits cleared. */
  net: bigint;
}

/** The prefix length of a dotted IPv4 netmask (255.255.255.0: 24), or undefined when the text
 *  is not an IPv4 address whose one bits are contiguous from the top. */
export function netmaskLength(text: string): number | undefined {
  const m = parseIPv4(text);
  if (m === undefined) return undefined;
  const ones = Math.clz32(~m >>> 0);
  return ones === 32 || ((m << ones) >>> 0) === 0 ? ones : undefined;
}

/** ADDRESS/LEN (or a bare ADDRESS, LEN = the width, when `bareAddress`) of the given family or
 *  either; an error sentence when it is not one. Host bits are allowed: `strict` refuses them.
 *  With `netmask`, an IPv4 LEN may also be a dotted netmask (Click's 10.0.0.0/255.255.255.0). */
export function parsePrefix(
  text: string,
  opts: { width?: 32 | 128; bareAddress?: boolean; strict?: boolean; netmask?: boolean } = {},
): Prefix | string {
  const family = opts.width === 32 ? 'an IPv4' : opts.width === 128 ? 'an IPv6' : 'an IPv4 or IPv6';
  const slash = text.indexOf('/');
  if (slash < 0 && !opts.bareAddress) return `'${text}' is not ${family} prefix ADDRESS/LENGTH`;
  const a = parseIP(slash < 0 ? text : text.slice(0, slash));
  if (!a || (opts.width !== undefined && a.width !== opts.width))
    return `'${slash < 0 ? text : text.slice(0, slash)}' is not ${family} address`;
  let len: number = a.width;
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    const fromMask = opts.netmask && a.width === 32 && l.includes('.') ? netmaskLength(l) : undefined;
    if (opts.netmask && a.width === 32 && l.includes('.') && fromMask === undefined)
      return `netmask '${l}' is not a dotted IPv4 netmask with its one bits together at the top (like 255.255.255.0)`;
    if (fromMask === undefined && (!/^(0|[1-9][0-9]{0,2})$/.test(l) || Number(l) > a.width)) return `prefix length '${l}' must be a number from 0 to ${a.width}`;
    len = fromMask ?? Number(l);
  }
  const net = a.addr & maskOf(a.width, len);
  if (opts.strict && net !== a.addr) {
    const f = a.width === 32 ? formatIPv4(net) : formatIPv6(net);
    return `'${text}' has bits set beyond its length (did you mean ${f}/${len}?)`;
  }
  return { width: a.width, addr: a.addr, len, net };
}

/** An IPv6 address as its 16 bytes, in network order. */
export function ipv6Bytes(v: bigint): number[] {
  return Array.from({ length: 16 }, (_, i) => Number((v >> BigInt(120 - 8 * i)) & 0xffn));
}
