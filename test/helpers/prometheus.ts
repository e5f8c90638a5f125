// Reading a Prometheus text exposition (GET /metrics) as samples, for tests that check what a scrape holds.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there is none). */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The live scrape of a server's /metrics, given its GraphQL URL. */
export async function scrape(graphqlUrl: string): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'));
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  return { text, samples: parseSamples(text) };
}
