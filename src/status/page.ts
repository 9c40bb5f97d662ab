// The status page as one HTML document: no framework and no script, a form for the filters, a
// table that turns into one card per Reservation on a narrow screen. Pure: model in, HTML out;
// every value from the cluster is escaped.
import { STATES, type Checkin, type State } from '../api/reservation.ts';
import { stateColor, COLORS } from './badge.ts';
import { humanDuration, type PeerRow, type StatusModel, type StatusRow } from './model.ts';

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#59636e;--bg:#fff;--line:#d1d9e0;--card:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#3d444d;--card:#151b23}}
*{box-sizing:border-box}
body{margin:0;padding:16px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.3rem;margin:0 0 4px}h2{font-size:1.1rem;margin:24px 0 8px}
.muted{color:var(--muted)}.summary{margin:4px 0 12px;display:flex;flex-wrap:wrap;gap:6px}
form{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:12px 0}
label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted)}
select,button{font:inherit;padding:6px 8px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);min-height:36px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;color:var(--muted);font-weight:600}
.state{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:.85rem;white-space:nowrap}
.state.lightgrey,.state.yellow{color:#1b1f24}
tr.failing td:first-child{border-left:4px solid ${COLORS.red}}
.name{font-weight:600;overflow-wrap:anywhere}.msg{font-size:.85rem;color:var(--muted);overflow-wrap:anywhere}
.runs{display:flex;gap:3px;flex-wrap:wrap}.run{width:12px;height:12px;border-radius:3px;display:inline-block}
@media (max-width:700px){
 body{padding:10px}thead{display:none}table,tbody,tr,td{display:block;width:100%}
 tr{border:1px solid var(--line);border-radius:8px;margin:0 0 10px;padding:6px 10px;background:var(--card)}
 tr.failing{border-left:5px solid ${COLORS.red}}tr.failing td:first-child{border-left:0}
 td{border:0;padding:3px 0;display:flex;gap:8px}td[data-label]::before{content:attr(data-label);min-width:7.5em;flex:none;color:var(--muted);font-size:.85rem}
 td:first-child{display:block;padding-bottom:6px}td:first-child::before{display:none}.summary .state{font-size:.8rem}
}`;

const stateBadge = (state: string, color: string): string => `<span class="state ${color}" style="background:${COLORS[color as keyof typeof COLORS] ?? COLORS.lightgrey}">${esc(state)}</span>`;

const RUN_COLORS: Record<Checkin['signal'], string> = { success: COLORS.brightgreen, fail: COLORS.red, start: COLORS.blue, log: COLORS.lightgrey };

function runDot(c: Checkin): string {
  const what = c.signal === 'fail' && c.exitCode !== undefined ? `fail (exit ${c.exitCode})` : c.signal;
  const title = `${c.time} ${what}${c.durationSeconds !== undefined ? `, ${c.durationSeconds}s` : ''}${c.message ? `: ${c.message.slice(0, 120)}` : ''}`;
  return `<span class="run" style="background:${RUN_COLORS[c.signal] ?? COLORS.lightgrey}" title="${esc(title)}" aria-label="${esc(what)}"></span>`;
}

const when = (iso: string | undefined, text: string): string => (iso ? `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(text)}</time>` : '<span class="muted">never</span>');

function rowHtml(r: StatusRow): string {
  const since = r.secondsSinceCheckin !== undefined ? `${humanDuration(r.secondsSinceCheckin)} ago` : '';
  const deadline =
    r.secondsToDeadline === undefined ? '' : r.secondsToDeadline >= 0 ? `in ${humanDuration(r.secondsToDeadline)}` : `${humanDuration(r.secondsToDeadline)} ago`;
  const last = r.lastCheckin ? `${r.lastCheckin.time.replace('T', ' ').replace(/\.\d+/, '')} (${r.lastCheckin.signal})` : undefined;
  return (
    `<tr class="${r.failing ? 'failing' : 'ok'}" data-namespace="${esc(r.namespace)}" data-name="${esc(r.name)}" data-state="${esc(r.state)}">` +
    `<td data-label="Reservation"><div class="name">${esc(r.namespace)}/${esc(r.name)}</div>${r.message ? `<div class="msg">${esc(r.message)}</div>` : ''}</td>` +
    `<td data-label="State">${stateBadge(r.state, stateColor(r.state))}${r.alerting ? ' <span class="muted">alerting</span>' : ''}</td>` +
    `<td data-label="Last check-in">${r.lastCheckin ? when(r.lastCheckin.time, last!) : when(undefined, '')}</td>` +
    `<td data-label="Since">${esc(since) || '<span class="muted">–</span>'}</td>` +
    `<td data-label="Next deadline">${r.nextDeadline ? when(r.nextDeadline, deadline) : '<span class="muted">–</span>'}</td>` +
    `<td data-label="Recent runs"><span class="runs">${r.recent.map(runDot).join('') || '<span class="muted">none</span>'}</span></td>` +
    `</tr>`
  );
}

function filterForm(m: StatusModel): string {
  const opt = (value: string, text: string, selected: boolean): string => `<option value="${esc(value)}"${selected ? ' selected' : ''}>${esc(text)}</option>`;
  const namespaces = [opt('', 'all namespaces', !m.filter.namespace), ...m.namespaces.map((ns) => opt(ns, ns, m.filter.namespace === ns))];
  if (m.filter.namespace && !m.namespaces.includes(m.filter.namespace)) namespaces.push(opt(m.filter.namespace, m.filter.namespace, true));
  const states = [opt('', 'any state', !m.filter.state), opt('failing', 'failing', m.filter.state === 'failing'), ...STATES.map((s) => opt(s, s, m.filter.state === s))];
  return (
    `<form method="get" action="status" role="search">` +
    `<label>Namespace<select name="namespace">${namespaces.join('')}</select></label>` +
    `<label>State<select name="state">${states.join('')}</select></label>` +
    `<button type="submit">Filter</button></form>`
  );
}

function summary(m: StatusModel): string {
  const chips = STATES.filter((s) => m.counts[s]).map((s: State) => `<a href="status?state=${s}">${stateBadge(`${s} ${m.counts[s]}`, stateColor(s))}</a>`);
  return `<div class="summary" aria-label="counts by state">${chips.join('') || '<span class="muted">no Reservations</span>'}</div>`;
}

function peersHtml(peers: PeerRow[] | undefined): string {
  if (!peers || peers.length === 0) return `<h2>Peers</h2><p class="muted" id="peers">none</p>`;
  const color = (state: string): string => (state === 'Up' ? 'brightgreen' : state === 'Pending' ? 'lightgrey' : state === 'Degraded' ? 'orange' : 'red');
  const rows = peers.map(
    (p) =>
      `<tr class="${p.state === 'Up' || p.state === 'Pending' ? 'ok' : 'failing'}" data-peer="${esc(p.name)}">` +
      `<td data-label="Peer"><div class="name">${esc(p.name)}</div>${p.message ? `<div class="msg">${esc(p.message)}</div>` : ''}</td>` +
      `<td data-label="Cluster">${esc(p.cluster ?? '–')}</td><td data-label="State">${stateBadge(p.state, color(p.state))}</td>` +
      `<td data-label="Last seen">${p.lastSeenTime ? when(p.lastSeenTime, `${humanDuration(p.secondsSinceSeen ?? 0)} ago`) : when(undefined, '')}</td></tr>`,
  );
  return `<h2>Peers</h2><table id="peers"><thead><tr><th>Peer</th><th>Cluster</th><th>State</th><th>Last seen</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function renderStatusPage(m: StatusModel, opts: { clusterName?: string } = {}): string {
  const title = `GoTel status${opts.clusterName ? ` – ${opts.clusterName}` : ''}`;
  const failing = m.rows.filter((r) => r.failing).length;
  const shown = m.matching === m.total ? `${m.total} Reservations` : `${m.matching} of ${m.total} Reservations`;
  const cut = m.rows.length < m.matching ? `<p class="muted" id="truncated">Showing the first ${m.rows.length} of ${m.matching}; filter by namespace or state to see the others.</p>` : '';
  const body = m.rows.length
    ? `<table id="reservations"><thead><tr><th>Reservation</th><th>State</th><th>Last check-in</th><th>Since</th><th>Next deadline</th><th>Recent runs</th></tr></thead><tbody>${m.rows.map(rowHtml).join('')}</tbody></table>`
    : `<p class="muted" id="reservations">No Reservation matches.</p>`;
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${esc(title)}</title><style>${CSS}</style></head><body>` +
    `<h1>${esc(title)}</h1><div class="muted">${esc(shown)}${failing ? `, <strong>${failing} failing</strong>` : ''} · generated <time datetime="${m.generatedAt}">${m.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time></div>` +
    summary(m) +
    filterForm(m) +
    body +
    cut +
    peersHtml(m.peers) +
    `</body></html>`
  );
}
