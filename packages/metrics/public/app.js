// FST dashboard: renders the summary the metrics service streams over server-sent events.
// Every value from the mesh is written with textContent or setAttribute, never parsed as HTML.

const SVG = 'http://www.w3.org/2000/svg'
const $ = id => document.getElementById(id)
const { clock, ago, dateTime, until, span, removes, expiryText, shortId } = window.FstFormat
let last = null

function el (tag, text, className) {
  const node = document.createElement(tag)
  if (text !== undefined) node.textContent = String(text)
  if (className !== undefined) node.className = className
  return node
}

/** A table's body: the rows, or one row saying there is nothing, across all `columns`. */
function fillTable (id, rows, emptyText, columns) {
  if (rows.length === 0) {
    const td = el('td', emptyText)
    td.colSpan = columns
    const tr = el('tr')
    tr.append(td)
    rows.push(tr)
  }
  $(id).tBodies[0].replaceChildren(...rows)
}

function svg (tag, attrs) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  return node
}

/** The country and AS panels' text when no lookups are made, by the snapshot's `geo`. */
const GEO_ABSENT = {
  missing: 'no GeoIP data: install the fst-geoip package',
  off: 'GeoIP lookups are off (metrics.geoip: false)'
}

function renderRanked (list, items, empty = 'nothing yet') {
  const children = items.length === 0
    ? [el('li', empty, 'empty')]
    : items.map(({ key, count }) => {
      const li = el('li')
      li.append(el('span', key, 'key'), el('span', count, 'count'))
      return li
    })
  list.replaceChildren(...children)
}

function renderChart (minutes) {
  // drawn at the container's pixel width so text is not stretched; redrawn on resize
  const width = Math.max(200, $('chart').clientWidth || 600)
  const height = 180
  const pad = { left: 28, bottom: 18, top: 6 }
  const max = Math.max(1, ...minutes.map(m => Math.max(m.bans, m.unbans)))
  const slot = (width - pad.left) / minutes.length
  const bar = Math.max(1, slot / 2 - 0.5)
  const labelEvery = width < 500 ? 20 : 15
  const scale = v => (v / max) * (height - pad.top - pad.bottom)
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}` })
  root.append(svg('line', { x1: pad.left, x2: width, y1: height - pad.bottom, y2: height - pad.bottom, class: 'axis' }))
  const top = svg('text', { x: 0, y: pad.top + 8 })
  top.textContent = String(max)
  root.append(top)
  minutes.forEach((m, i) => {
    const x = pad.left + i * slot
    for (const [kind, value, offset] of [['ban', m.bans, 0], ['unban', m.unbans, bar]]) {
      const h = scale(value)
      const rect = svg('rect', { x: x + offset, y: height - pad.bottom - h, width: bar, height: h, class: kind, 'data-count': value, 'data-minute': m.minute })
      const title = svg('title', {})
      title.textContent = `${clock(m.minute)}: ${value} ${kind}s`
      rect.append(title)
      root.append(rect)
    }
    const lastOne = i === minutes.length - 1
    if ((i % labelEvery === 0 && i < minutes.length - 12) || lastOne) {
      const label = svg('text', lastOne ? { x: width, y: height - 4, 'text-anchor': 'end' } : { x, y: height - 4 })
      label.textContent = new Date(m.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      root.append(label)
    }
  })
  $('chart').replaceChildren(root)
}

function renderFeed (feed, previous, peers) {
  // show the origin as its sync-peers.txt entry when known: easier to read than a peer ID
  const entries = new Map(peers.filter(p => p.peerId !== null).map(p => [p.peerId, p.entry]))
  const seen = new Set((previous ?? []).map(e => `${e.received}|${e.origin}|${e.action}|${e.name}|${e.ip}`))
  const rows = feed.map(e => {
    const tr = el('tr')
    if (previous !== null && !seen.has(`${e.received}|${e.origin}|${e.action}|${e.name}|${e.ip}`)) tr.className = 'fresh'
    const origin = el('td', entries.get(e.origin) ?? shortId(e.origin), 'mono')
    origin.title = e.origin
    tr.append(
      el('td', clock(e.time)),
      el('td', e.action, removes(e.action) ? 'removes' : 'adds'),
      el('td', e.name),
      el('td', e.ip, 'mono'),
      el('td', e.country ?? ''),
      el('td', expiryText(e)),
      origin
    )
    return tr
  })
  fillTable('feed', rows, 'no events yet', 7)
}

function renderPeers (peers, now) {
  const rows = peers.map(p => {
    const tr = el('tr')
    const id = el('td', p.peerId === null ? 'not yet known' : shortId(p.peerId), 'mono')
    if (p.peerId !== null) id.title = p.peerId
    tr.append(
      el('td', p.entry, 'mono'),
      id,
      el('td', p.connected ? 'connected' : 'disconnected', p.connected ? 'removes' : 'adds'),
      el('td', p.lastHeard === null ? 'never' : ago(p.lastHeard, now))
    )
    return tr
  })
  $('peers').tBodies[0].replaceChildren(...rows)
}

function originName (peers, id) {
  const p = peers.find(x => x.peerId === id)
  return p === undefined ? (id === last?.self ? 'this service' : shortId(id)) : p.entry
}

function renderOrigins (origins, peers) {
  const rows = origins.map(o => {
    const tr = el('tr')
    const name = el('td', originName(peers, o.origin), 'mono')
    name.title = o.origin
    tr.append(name, el('td', o.bans), el('td', o.unbans), el('td', o.topName ?? '–'), el('td', dateTime(o.last)))
    return tr
  })
  fillTable('origins', rows, 'no events yet', 5)
}

function renderExpiring (list, now) {
  const rows = list.map(x => {
    const tr = el('tr')
    const when = el('td', until(x.expires, now))
    when.title = dateTime(x.expires)
    tr.append(el('td', x.ip, 'mono'), el('td', x.name), when)
    return tr
  })
  fillTable('expiring', rows, 'no timed bans active', 3)
}

function renderRefused (refused) {
  $('refused-total').textContent = String(refused.total)
  renderRanked($('refused-reasons'), refused.byReason)
  $('refused-recent').replaceChildren(...refused.recent.map(r => el('li', `${clock(r.received)} ${r.result} ${r.reason}`)))
}

function render (s) {
  $('active-bans').textContent = String(s.activeBans)
  $('total-bans').textContent = String(s.totals.bans)
  $('total-unbans').textContent = String(s.totals.unbans)
  $('peers-connected').textContent = `${s.peers.filter(p => p.connected).length} / ${s.peers.length}`
  renderChart(s.minutes)
  renderRanked($('top-names'), s.topNames)
  renderRanked($('top-actions'), s.topActions)
  renderRanked($('top-addresses'), s.topAddresses)
  renderRanked($('top-networks'), s.topNetworks)
  renderFeed(s.feed, last === null ? null : last.feed, s.peers)
  renderPeers(s.peers, s.now)
  $('delay').textContent = s.delay.samples === 0 ? '–' : `${span(s.delay.p50)} / ${span(s.delay.p95)}`
  $('delay').title = s.delay.samples === 0 ? '' : `over the last ${s.delay.samples} events, max ${span(s.delay.max)}`
  renderOrigins(s.origins, s.peers)
  renderRanked($('top-countries'), s.topCountries, GEO_ABSENT[s.geo])
  renderRanked($('top-asns'), s.topAsns, GEO_ABSENT[s.geo])
  renderExpiring(s.expiring, s.now)
  renderRefused(s.refused)
  last = s
}

function renderSearch (r) {
  const box = $('search-result')
  box.hidden = false
  const where = r.geo === null ? '' : [r.geo.country, r.geo.asn === null ? null : `AS${r.geo.asn} ${r.geo.org ?? ''}`.trim()].filter(x => x !== null).join(', ')
  const state = r.active.length === 0
    ? 'not banned now'
    : `banned now (${r.active.map(a => `${a.name}, ${a.expires === null ? 'permanent' : `until ${dateTime(a.expires)}`}`).join('; ')})`
  $('search-summary').textContent = `${r.ip}${where === '' ? '' : ` — ${where}`}: ${state}; ${r.events.length} event${r.events.length === 1 ? '' : 's'} stored`
  const peers = last?.peers ?? []
  const rows = r.events.map(e => {
    const tr = el('tr')
    tr.append(
      el('td', dateTime(e.received)),
      el('td', e.action, removes(e.action) ? 'removes' : 'adds'),
      el('td', e.name),
      el('td', removes(e.action) ? '' : e.duration === 0 ? 'permanent' : `${e.duration} s`),
      el('td', expiryText(e)),
      el('td', originName(peers, e.origin), 'mono')
    )
    return tr
  })
  $('search-events').tBodies[0].replaceChildren(...rows)
}

$('search').addEventListener('submit', async evt => {
  evt.preventDefault()
  const ip = $('search-ip').value.trim()
  if (ip === '') return
  try {
    const res = await fetch(`api/address?ip=${encodeURIComponent(ip)}`)
    const body = await res.json()
    if (!res.ok) {
      $('search-result').hidden = false
      $('search-summary').textContent = body.error
      $('search-events').tBodies[0].replaceChildren()
      return
    }
    renderSearch(body)
  } catch (err) {
    $('search-summary').textContent = `search failed: ${err.message}`
  }
})

function tick () {
  const now = new Date()
  $('clock').textContent = now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  $('clock').dateTime = now.toISOString()
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone
  const offset = -now.getTimezoneOffset()
  const sign = offset < 0 ? '-' : '+'
  const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')
  const mm = String(Math.abs(offset) % 60).padStart(2, '0')
  $('tz').textContent = `${zone} (UTC${sign}${hh}:${mm})`
}
tick()
setInterval(tick, 1000)

function connect () {
  const conn = $('conn')
  const source = new EventSource('events')
  source.onopen = () => { conn.dataset.state = 'live'; conn.textContent = 'live' }
  source.onerror = () => { conn.dataset.state = 'lost'; conn.textContent = 'reconnecting…' }
  source.onmessage = msg => {
    try {
      render(JSON.parse(msg.data))
    } catch (err) {
      conn.dataset.state = 'lost'
      conn.textContent = `bad update: ${err.message}`
    }
  }
}

let resizeTimer = null
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer)
  resizeTimer = setTimeout(() => { if (last !== null) renderChart(last.minutes) }, 150)
})

connect()
