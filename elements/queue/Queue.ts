import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Queue = defineElement({
  name: 'Queue',
  group: 'queue',
  summary: 'Stores pushed packets until something pulls them; drops the newest when full.',
  doc: `Turns push into pull: packets pushed to its input wait in a first-in first-out queue of at
most \`capacity\` packets until pulled from its output; a packet arriving at a full queue is dropped
and counted in \`drops\` (drop-tail). The queue is a lock-free ring, so its push side and pull side
may run on different worker threads (the way to hand packets from one core to another).
Raising \`capacity\` past the ring's size reallocates the ring with the graph briefly paused;
lowering it keeps the packets already queued.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/l',
  config: Type.Object(
    {
      capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 16777216, default: 1000, description: 'Most packets held.' })),
    },
    { additionalProperties: false },
  ),
  counters: { enqueued: 'packets accepted', drops: 'packets dropped because the queue was full' },
  quotas: { buffers: 'capacity' },
  handlers: {
    length: { doc: 'packets in the queue now', read: true },
    highwater_length: { doc: 'the most packets the queue has held', read: true },
    capacity: { doc: 'read or change the capacity', read: true, write: true },
    reset: { doc: 'zero the drop and enqueue counts and the high-water mark', write: true },
  },
});
