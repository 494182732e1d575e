// Drops every record, counting them: the sink of benchmarks.
import type { Sink, SinkWriter } from '../runtime/sink.js';

export class DiscardingSink<T> implements Sink<T> {
  count = 0;

  createWriter(): SinkWriter<T> {
    return {
      write: (records: T[]): void => {
        this.count += records.length;
      },
    };
  }
}
