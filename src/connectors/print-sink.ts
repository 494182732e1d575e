// Prints records to stdout, one per line, prefixed with the subtask (`2> …`) when parallel, as
// Flink's print() does. Waits for stdout to drain, so a slow terminal backpressures the job.
import { once } from 'node:events';
import type { RuntimeContext } from '../runtime/functions.js';
import type { Sink, SinkWriter } from '../runtime/sink.js';
import { formatRecord } from './format-record.js';

export class PrintSink<T> implements Sink<T> {
  constructor(
    private readonly prefix?: string,
    private readonly stream: NodeJS.WritableStream = process.stdout,
  ) {}

  createWriter(ctx: RuntimeContext): SinkWriter<T> {
    const tag = ctx.parallelism > 1 ? `${ctx.subtaskIndex + 1}> ` : '';
    const prefix = this.prefix === undefined ? tag : `${this.prefix}:${tag === '' ? ' ' : tag}`;
    const stream = this.stream;
    return {
      async write(records: T[]): Promise<void> {
        let text = '';
        for (const r of records) text += prefix + formatRecord(r) + '\n';
        if (!stream.write(text)) await once(stream, 'drain');
      },
    };
  }
}
