// A compact text summary (k6's own needs a remote module; this works offline).
export function textSummary(data) {
  const lines = [];
  const m = data.metrics;
  const fmt = (v) => (v === undefined || v === null ? '-' : (Math.round(v * 100) / 100).toString());
  for (const name of Object.keys(m).sort()) {
    const v = m[name].values;
    if (m[name].type === 'trend') {
      lines.push(`${name}: avg ${fmt(v.avg)} p(50) ${fmt(v.med)} p(90) ${fmt(v['p(90)'])} p(95) ${fmt(v['p(95)'])} max ${fmt(v.max)}`);
    } else if (m[name].type === 'counter') {
      lines.push(`${name}: ${fmt(v.count)} (${fmt(v.rate)}/s)`);
    } else if (m[name].type === 'rate') {
      lines.push(`${name}: ${fmt(v.rate * 100)}%`);
    }
    if (m[name].thresholds) {
      for (const [t, r] of Object.entries(m[name].thresholds)) lines.push(`  threshold ${t}: ${r.ok ? 'ok' : 'FAILED'}`);
    }
  }
  return lines.join('\n');
}
