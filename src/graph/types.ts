// Schema helpers shared by element descriptors, so each kind of field is described,
// checked and documented the same way everywhere.
import { Type } from 'typebox';

/** Bytes as hex digits; spaces and colons are allowed between them. */
export function hexBytes(description: string, def?: string) {
  return Type.String({ pattern: '^[0-9a-fA-F :\\n\\t]*$', description, ...(def !== undefined ? { default: def } : {}) });
}

/** A dotted-quad IPv4 address, as inet_pton reads it (no leading zeros; src/util/address.ts parses it). */
export function ipv4Address(description: string, def?: string) {
  return Type.String({
    pattern: '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$',
    description,
    ...(def !== undefined ? { default: def } : {}),
  });
}

/** An IPv6 address in any textual form (checked again by the element). */
export function ipv6Address(description: string, def?: string) {
  return Type.String({ pattern: '^[0-9a-fA-F:.]+$', description, ...(def !== undefined ? { default: def } : {}) });
}

/** An Ethernet address as six colon-separated hex bytes. */
export function etherAddress(description: string, def?: string) {
  return Type.String({ pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$', description, ...(def !== undefined ? { default: def } : {}) });
}
