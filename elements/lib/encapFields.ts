// The outer IPv4 header's settings the tunnel encapsulators share (IPEncap, UDPIPEncap,
// GREEncap, VXLANEncap); their native side reads them once (encap_util.h, Ip4Template::configure).
import { Type } from 'typebox';

/** The config fields after each element's own. */
export const outerIp4Fields = {
  tos: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, default: 0, description: 'The outer TOS byte (DSCP and ECN).' })),
  ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, default: 64, description: 'The outer time to live.' })),
  df: Type.Optional(Type.Boolean({ default: false, description: "Set the outer don't-fragment flag." })),
};
