// Starts GraphiQL against this gateway. Queries and mutations go to /graphql;
// subscriptions to /graphql/stream (GraphQL over SSE), with the same headers, so
// the Authorization header in the Headers tab works for both.
'use strict';

const config = JSON.parse(document.getElementById('gridcase-config').textContent);

function isSubscription(query, operationName) {
  const ops = [...query.matchAll(/(?:^|[}\s])(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g)];
  const op = operationName ? ops.find((m) => m[2] === operationName) : ops[0];
  return Boolean(op && op[1] === 'subscription');
}

// The `next` results of a GraphQL-over-SSE response, as an async iterator.
async function* sse(resp) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = '';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (event === 'complete') return;
        if (event === 'next') yield JSON.parse(data.join('\n'));
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function fetcher(params, opts = {}) {
  const headers = { 'Content-Type': 'application/json', ...(opts.headers || {}) };
  const body = JSON.stringify(params);
  if (isSubscription(params.query || '', params.operationName)) {
    const resp = await fetch('/graphql/stream', {
      method: 'POST', headers: { ...headers, Accept: 'text/event-stream' }, body,
    });
    if (!resp.ok) return resp.json();
    return sse(resp);
  }
  const resp = await fetch('/graphql', {
    method: 'POST', headers: { ...headers, Accept: 'application/json' }, body,
  });
  return resp.json();
}

if (config.portal) {
  const banner = document.getElementById('sandbox');
  const link = document.createElement('a');
  link.href = config.portal;
  link.textContent = `open the partner portal as ${config.partner}`;
  banner.append('Sandbox: signed in as the sample agent (see Headers below). ', link, '.');
  banner.hidden = false;
}

const props = { fetcher, defaultEditorToolsVisibility: Boolean(config.headers), shouldPersistHeaders: false };
if (config.headers) props.defaultHeaders = config.headers;
if (config.query) props.defaultQuery = config.query;
ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
