/** GET /: a plain page saying what this host is and where its API lives (the web console is a later part). */
export function landingPage(hostId: string, version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>JobCenter</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:48rem;margin:3rem auto;padding:0 1rem;color:#222}
code,pre{background:#f4f4f4;border-radius:4px;padding:.1rem .3rem}pre{padding:.8rem;overflow:auto}</style></head>
<body><h1>JobCenter</h1>
<p>Host <code>${escapeHtml(hostId)}</code>, version ${escapeHtml(version)}, is running.</p>
<ul><li><a href="/healthz">/healthz</a> — health</li><li><a href="/metrics">/metrics</a> — Prometheus metrics</li>
<li><code>/api/v1</code> — the REST API (log in first); its reference: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1)</li></ul>
<pre>TOKEN=$(curl -s ${'$'}HOST/api/v1/auth/login -H 'content-type: application/json' \\
  -d '{"username":"admin","password":"…"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
curl -s ${'$'}HOST/api/v1/jobs -H "authorization: Bearer $TOKEN"
curl -s "${'$'}HOST/api/v1/runs?limit=5" -H "authorization: Bearer $TOKEN"</pre>
</body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
