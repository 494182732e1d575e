// Collects every record in memory, in arrival order across subtasks. For tests and small jobs
// that run in this process (env.execute()).
import type { Sink, SinkWriter } from '../runtime/sink.js';

export class CollectSink<T> implements Sink<T> {
  readonly results: T[] = [];

  createWriter(): SinkWriter<T> {
    const results = this.results;
    return {
      write(records: T[]): void {
        for (const r of records) results.push(r);
      },
    };
  }
}
