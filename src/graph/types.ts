// Schema helpers shared by element descriptors, so each kind of field is described,
// checked and documented the same way everywhere.
//
// Address fields: the user writes text ('198.18.0.1', 'fd00::1', '02:00:00:00:00:01',
// '198.18.0.0/15'); the compiler checks it with src/util/address.ts and writes the plan's typed
// form (typedAddress below), and the field's class facts carry its `kind`, so the native side
// reads it with a typed getter (conf.ipv4("src"), conf.ipv6, conf.mac, conf.prefix) and never
// parses text (docs/plan.md, "Address fields").
import { Type } from 'typebox';
import { formatIPv4, formatIPv6, ipv6Bytes, parseIPv4, parseIPv6, parseMac, parsePrefix } from '../util/address.js';

/** Bytes as hex digits; spaces and colons are allowed between them. */
export function hexBytes(description: string, def?: string) {
  return Type.String({ pattern: '^[0-9a-fA-F :\\n\\t]*$', description, ...(def !== undefined ? { default: def } : {}) });
}

/** What an address field holds: an IPv4 or IPv6 address, either (`ip`), an Ethernet address, or
 *  an IPv4 prefix ADDRESS/LEN. */
export type AddressKind = 'ipv4' | 'ipv6' | 'ip' | 'mac' | 'ipv4prefix';

/** The schema keyword that marks an address field with its kind. */
export const ADDRESS_KIND = 'addressKind';

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'; // as inet_pton: no leading zeros
const IPV4 = `(${OCTET}\\.){3}${OCTET}`;

const opts = (kind: AddressKind, description: string, def?: string) => ({
  [ADDRESS_KIND]: kind,
  description,
  ...(def !== undefined ? { default: def } : {}),
});

/** A dotted-quad IPv4 address, as inet_pton reads it (no leading zeros). Plan: a number. */
export function ipv4Address(description: string, def?: string) {
  return Type.String({ pattern: `^${IPV4}$`, ...opts('ipv4', description, def) });
}

/** An IPv6 address in any RFC 4291 text form. Plan: 16 bytes. */
export function ipv6Address(description: string, def?: string) {
  return Type.String({ pattern: '^[0-9a-fA-F:.]+$', ...opts('ipv6', description, def) });
}

/** An IPv4 or IPv6 address. Plan: a number (IPv4) or 16 bytes (IPv6). */
export function ipAddress(description: string, def?: string) {
  return Type.String({ pattern: '^[0-9a-fA-F:.]+$', ...opts('ip', description, def) });
}

/** An Ethernet address as six colon-separated hex bytes. Plan: 6 bytes. */
export function etherAddress(description: string, def?: string) {
  return Type.String({ pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$', ...opts('mac', description, def) });
}

/** An IPv4 prefix ADDRESS/LEN, or a bare ADDRESS (/32); host bits are allowed (an interface's
 *  address and its subnet). Plan: { addr: number, len }. */
export function ipv4Prefix(description: string, def?: string) {
  return Type.String({ pattern: `^${IPV4}(/(3[0-2]|[12]?[0-9]))?$`, ...opts('ipv4prefix', description, def) });
}

/** An address field that may also be '' (none, or a default the element states). Plan: null for ''. */
export function orEmpty<T extends ReturnType<typeof ipv4Address>>(address: T, description: string) {
  return Type.Union([address, Type.Literal('')], { default: '', description });
}

/** The kind of an address field's schema (an address, an array of addresses, or an address or ''). */
export function addressKindOf(schema: any): { kind: AddressKind; array: boolean } | undefined {
  if (!schema) return undefined;
  if (schema[ADDRESS_KIND]) return { kind: schema[ADDRESS_KIND], array: false };
  if (schema.type === 'array' && schema.items?.[ADDRESS_KIND]) return { kind: schema.items[ADDRESS_KIND], array: true };
  const branch = (schema.anyOf as any[] | undefined)?.find((b) => b[ADDRESS_KIND]);
  if (branch && schema.anyOf.every((b: any) => b === branch || b.const === '')) return { kind: branch[ADDRESS_KIND], array: false };
  return undefined;
}

/** What an address field holds, in words ('an IPv4 address'). */
export const describeAddress = (kind: AddressKind) => FAMILY[kind];

const FAMILY: Record<AddressKind, string> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  ip: 'an IPv4 or IPv6 address',
  mac: 'an Ethernet address like 02:00:00:00:00:01',
  ipv4prefix: 'an IPv4 address or prefix ADDRESS/LEN',
};

/** A typed address in the plan: IPv4 a number (the first byte most significant: 198.18.0.1 is
 *  3323068417), IPv6 and Ethernet their bytes in network order, a prefix { addr, len }. */
export type TypedAddress = number | number[] | { addr: number | number[]; len: number };

/** The typed form of an address text of a kind, or an error sentence. */
export function typedAddress(kind: AddressKind, text: string): TypedAddress | string {
  const bad = `'${text}' is not ${FAMILY[kind]}`;
  switch (kind) {
    case 'ipv4':
      return parseIPv4(text) ?? bad;
    case 'ipv6': {
      const v = parseIPv6(text);
      return v === undefined ? bad : ipv6Bytes(v);
    }
    case 'ip': {
      const v4 = parseIPv4(text);
      if (v4 !== undefined) return v4;
      const v6 = parseIPv6(text);
      return v6 === undefined ? bad : ipv6Bytes(v6);
    }
    case 'mac':
      return parseMac(text) ?? bad;
    case 'ipv4prefix': {
      const p = parsePrefix(text, { width: 32, bareAddress: true });
      return typeof p === 'string' ? p : { addr: Number(p.addr), len: p.len };
    }
  }
}

/** The canonical text of a typed address (what the `config` handler shows). */
export function addressText(kind: AddressKind, v: unknown): unknown {
  if (v === null) return '';
  if (Array.isArray(v) && (kind === 'ipv4' || v.some((x) => typeof x !== 'number'))) return v.map((x) => addressText(kind, x)); // an array of addresses
  const bytesText = (b: number[]) => (b.length === 6 ? b.map((x) => x.toString(16).padStart(2, '0')).join(':') : formatIPv6(b.reduce((a, x) => (a << 8n) | BigInt(x), 0n)));
  if (typeof v === 'number') return formatIPv4(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return bytesText(v as number[]);
  if (v && typeof v === 'object' && 'addr' in v && 'len' in v) {
    const p = v as { addr: unknown; len: number };
    return `${addressText(kind, p.addr)}/${p.len}`;
  }
  return v;
}

/** The variant of a union of tagged objects (`{ kind: 'snat', ... } | { kind: 'dnat', ... }`)
 *  whose tags (constant properties) `value` carries; undefined for any other schema or value. */
export function taggedVariant(schema: any, value: unknown): any {
  const variants: any[] | undefined = schema?.anyOf;
  if (!variants || !value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const tags = (s: any) => Object.entries(s?.properties ?? {}).filter(([, p]: [string, any]) => p?.const !== undefined);
  if (!variants.every((s) => s?.type === 'object' && tags(s).length > 0)) return undefined;
  const match = variants.filter((s) => tags(s).every(([k, p]: [string, any]) => (value as Record<string, unknown>)[k] === p.const));
  return match.length === 1 ? match[0] : undefined;
}

/** `value` with `fn` applied to each address field's value (one address, or '' / null), at any
 *  depth of objects, arrays and unions of tagged objects: the compiler types addresses with
 *  it, the `config` handler shows them as text again. */
export function mapAddresses(schema: any, value: unknown, fn: (kind: AddressKind, v: unknown) => unknown): unknown {
  const address = addressKindOf(schema);
  if (address) return address.array && Array.isArray(value) ? value.map((v) => fn(address.kind, v)) : fn(address.kind, value);
  const object = taggedVariant(schema, value) ?? schema;
  if (object?.type === 'object' && object.properties && value && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const k of Object.keys(object.properties)) if (out[k] !== undefined) out[k] = mapAddresses(object.properties[k], out[k], fn);
    return out;
  }
  if (schema?.type === 'array' && schema.items && Array.isArray(value)) return value.map((item) => mapAddresses(schema.items, item, fn));
  return value;
}
