import { METRIC, METRICS_NAMESPACE, METRICS_SERVICE } from '#shared/metrics';

/**
 * Reads the EMF blobs Powertools Metrics writes to stdout (one JSON line per flush), as CloudWatch would. Every
 * blob must be in the GroupGate namespace with only the `service` dimension — or, for the per-reply figures
 * (`recordReplyMetrics`, published as their own blob), `service` and `platform` — or `values` throws.
 */
const PER_PLATFORM_METRICS = new Set<string>([METRIC.timeToFirstVisibleTextMs, METRIC.platformCallsPerReply]);
export interface EmfBlob {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

export interface EmfCapture {
  /** Every value published under `name` across the captured blobs, in order. */
  values(name: string): number[];
  /** How many EMF blobs with only the `service` dimension (flushes) were written. */
  count(): number;
  /** Metric names declared in the captured blobs. */
  names(): string[];
  /** The unit `name` was declared with. */
  unit(name: string): string | undefined;
  restore(): void;
}

export function captureEmf(): EmfCapture {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  const blobs = (): EmfBlob[] =>
    lines
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as EmfBlob)
      .map((blob) => {
        for (const directive of blob._aws.CloudWatchMetrics) {
          if (directive.Namespace !== METRICS_NAMESPACE) throw new Error(`namespace ${directive.Namespace}`);
          const dims = JSON.stringify(directive.Dimensions);
          const perPlatform =
            dims === '[["service","platform"]]' &&
            typeof blob.platform === 'string' &&
            directive.Metrics.every((m) => PER_PLATFORM_METRICS.has(m.Name));
          if (dims !== '[["service"]]' && !perPlatform) throw new Error(`dimensions ${dims}`);
        }
        if (blob.service !== METRICS_SERVICE) throw new Error(`service ${String(blob.service)}`);
        return blob;
      });
  const declared = () => blobs().flatMap((b) => b._aws.CloudWatchMetrics.flatMap((d) => d.Metrics));
  return {
    values: (name) =>
      blobs().flatMap((blob) => {
        const value = blob[name];
        if (value === undefined) return [];
        return (Array.isArray(value) ? value : [value]).map(Number);
      }),
    count: () => blobs().filter((b) => b.platform === undefined).length,
    names: () => [...new Set(declared().map((m) => m.Name))].sort(),
    unit: (name) => declared().find((m) => m.Name === name)?.Unit,
    restore: () => spy.mockRestore(),
  };
}
