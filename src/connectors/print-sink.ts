// Prints records to stdout, one per line, prefixed with the subtask (`2> …`) when parallel, as
// Flink's print() does. Waits for stdout to drain, so a slow terminal backpressures the job.
//
// When the reader goes away (`weir run job.ts | head`), what would have been printed is dropped
// and the job goes on, as Flink's print() (Java's PrintStream never throws) does: its other sinks
// still write the real output. Any other failure to write fails the job.
import { once } from 'node:events';
import type { RuntimeContext } from '../runtime/functions.js';
import type { Sink, SinkWriter } from '../runtime/sink.js';
import { formatRecord } from './format-record.js';

/** Per stream (every subtask prints to one stdout): its reader went away, or how it failed. */
const outcomes = new WeakMap<NodeJS.WritableStream, { gone: boolean; failure?: unknown }>();

function watch(stream: NodeJS.WritableStream): { gone: boolean; failure?: unknown } {
  let outcome = outcomes.get(stream);
  if (outcome === undefined) {
    const o: { gone: boolean; failure?: unknown } = { gone: false };
    outcome = o;
    outcomes.set(stream, o);
    // Also a failed write that nobody awaits (one that returned true) is seen, at the next write.
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') o.gone = true;
      else o.failure ??= e;
    });
  }
  return outcome;
}

export class PrintSink<T> implements Sink<T> {
  constructor(
    private readonly prefix?: string,
    private readonly stream: NodeJS.WritableStream = process.stdout,
  ) {}

  createWriter(ctx: RuntimeContext): SinkWriter<T> {
    const tag = ctx.parallelism > 1 ? `${ctx.subtaskIndex + 1}> ` : '';
    const prefix = this.prefix === undefined ? tag : `${this.prefix}:${tag === '' ? ' ' : tag}`;
    const stream = this.stream;
    const outcome = watch(stream);
    return {
      async write(records: T[]): Promise<void> {
        // For good: a stream that failed is destroyed, and a write to it would wait for ever.
        if (outcome.failure !== undefined) throw outcome.failure;
        if (outcome.gone) return;
        let text = '';
        for (const r of records) text += prefix + formatRecord(r) + '\n';
        if (stream.write(text)) return;
        try {
          await once(stream, 'drain');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
        }
      },
    };
  }
}
