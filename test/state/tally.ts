// A class instance kept in state with a serializer of its own (weir's codec refuses class
// instances): what tests of copies use to see that a value stays an instance of its class.
import type { StateSerializer } from '../../src/index.js';

export class Tally {
  constructor(public n = 0) {}
  inc(): this {
    this.n++;
    return this;
  }
}

export const tallySerializer: StateSerializer<Tally> = {
  id: 'tally',
  serialize: (t) => Uint8Array.of(t.n),
  deserialize: (bytes) => new Tally(bytes[0]),
};
