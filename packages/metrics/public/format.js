// FST dashboard: how times, spans, expiries and peer IDs are written (loaded before app.js).

// in a function of its own: classic scripts share one global scope, and app.js names these too
window.FstFormat = (() => {
  function clock (ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  }

  function ago (ms, now) {
    const s = Math.max(0, Math.round((now - ms) / 1000))
    if (s < 60) return `${s} s ago`
    if (s < 3600) return `${Math.floor(s / 60)} min ago`
    return `${Math.floor(s / 3600)} h ago`
  }

  function dateTime (ms) {
    return new Date(ms).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
  }

  function until (ms, now) {
    const s = Math.max(0, Math.round((ms - now) / 1000))
    if (s < 60) return `in ${s} s`
    if (s < 3600) return `in ${Math.floor(s / 60)} min`
    if (s < 172800) return `in ${Math.floor(s / 3600)} h`
    return `in ${Math.floor(s / 86400)} d`
  }

  function span (ms) {
    if (ms === null) return '–'
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
  }

  function removes (action) {
    return action.length > 2 && action.startsWith('un')
  }

  /** When a ban ends: an absolute time, or "never" (permanent); nothing for removals. */
  function expiryText (e) {
    if (removes(e.action)) return ''
    return e.duration === 0 ? 'never' : dateTime(e.time + e.duration * 1000)
  }

  function shortId (id) {
    return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
  }

  return { clock, ago, dateTime, until, span, removes, expiryText, shortId }
})()
