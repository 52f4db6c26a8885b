import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Unqueue = defineElement({
  name: 'Unqueue',
  group: 'queue',
  summary: 'Pulls packets from its input as fast as it can and pushes them to its output.',
  doc: `Turns pull into push. Its task pulls up to \`burst\` packets a round from upstream (usually a
Queue or a scheduler) and pushes them on. Place it on another worker (\`thread\`) than the Queue's
pusher to move packets between cores.`,
  inputs: '1',
  outputs: '1',
  processing: 'l/h',
  config: Type.Object(
    {
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Most packets moved per task round.' })),
      active: Type.Optional(Type.Boolean({ default: true, description: 'Move packets (false: wait until the active handler is set).' })),
    },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets moved' },
  handlers: { active: { doc: 'read or set whether the element moves packets', read: true, write: true } },
});
