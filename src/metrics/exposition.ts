/**
 * Metric families written as Prometheus scrapes them: the text format
 * (version 0.0.4) or OpenMetrics 1.0, which differ only in how a counter's
 * and an info's family is named, and in OpenMetrics' closing `# EOF`.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

/** A histogram's samples: per bucket (upper bounds, ascending, without +Inf) the count at or below it. */
export interface HistogramSample {
  labels?: Labels;
  /** Upper bounds, ascending, with the count of observations at or below each (cumulative). */
  buckets: readonly { le: number; count: number }[];
  /** All observations, +Inf's bucket. */
  count: number;
  sum: number;
}

/**
 * One family. `name` is the family's name without the suffixes the format
 * adds: `ctlogd_events_written` for the counter whose samples are
 * `ctlogd_events_written_total`, `ctlogd_build` for `ctlogd_build_info`.
 */
export type Family = { name: string; help: string } & (
  | { type: 'counter' | 'gauge'; samples: readonly Sample[] }
  | { type: 'info'; labels: Labels }
  | { type: 'histogram'; samples: readonly HistogramSample[] }
);

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** An Accept header that names OpenMetrics. */
export const OPENMETRICS_ACCEPT = /application\/openmetrics-text/i;

/** The format a scraper asks for in its Accept header: OpenMetrics if it names it, else the text format. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && OPENMETRICS_ACCEPT.test(accept);
}

/** Both formats: `\`, `"` and newlines escaped in label values. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/*
 * A page is made per scrape, seconds apart: its code stays cold, so what
 * does not change between scrapes (the families' heads, the label sets,
 * which are the same objects each time) is written once and kept.
 */
const LABEL_TEXT = new WeakMap<Labels, string>();
const HEADS = new Map<string, string>();

function labelText(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  let text = LABEL_TEXT.get(labels);
  if (text === undefined) {
    text = Object.entries(labels)
      .map(([k, v]) => `${k}="${labelValue(v)}"`)
      .join(',');
    LABEL_TEXT.set(labels, text);
  }
  return text === '' ? '' : `{${text}}`;
}

/** A histogram bucket's labels: the sample's and `le`. */
function bucketText(labels: Labels | undefined, le: string): string {
  const own = labelText(labels);
  return own === '' ? `{le="${le}"}` : `${own.slice(0, -1)},le="${le}"}`;
}

/** `# HELP` and `# TYPE` of a family. */
function head(f: Family, openMetrics: boolean): string {
  const key = `${openMetrics}|${f.name}|${f.type}|${f.help}`;
  let text = HEADS.get(key);
  if (text === undefined) {
    // The text format names a counter's family as its samples (`_total`),
    // OpenMetrics without the suffix; an info is a gauge of value 1 there.
    const family = openMetrics ? f.name : f.name + suffixOf(f);
    const type = !openMetrics && f.type === 'info' ? 'gauge' : f.type;
    text = `# HELP ${family} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${family} ${type}\n`;
    HEADS.set(key, text);
  }
  return text;
}

/** What a family's sample names add to its name. */
function suffixOf(f: Family): string {
  return f.type === 'counter' ? '_total' : f.type === 'info' ? '_info' : '';
}

function number(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** The families as one exposition, in the order given. */
export function render(families: readonly Family[], openMetrics: boolean): string {
  let out = '';
  for (const f of families) {
    out += head(f, openMetrics);
    const sample = f.name + suffixOf(f);
    if (f.type === 'info') out += `${sample}${labelText(f.labels)} 1\n`;
    else if (f.type === 'histogram') {
      for (const h of f.samples) {
        for (const b of h.buckets) out += `${f.name}_bucket${bucketText(h.labels, number(b.le))} ${number(b.count)}\n`;
        out += `${f.name}_bucket${bucketText(h.labels, '+Inf')} ${number(h.count)}\n`;
        out += `${f.name}_sum${labelText(h.labels)} ${number(h.sum)}\n`;
        out += `${f.name}_count${labelText(h.labels)} ${number(h.count)}\n`;
      }
    } else for (const s of f.samples) out += `${sample}${labelText(s.labels)} ${number(s.value)}\n`;
  }
  return openMetrics ? `${out}# EOF\n` : out;
}
