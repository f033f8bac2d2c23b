import { writeFileSync } from 'node:fs'

interface Point { nodes: number, p50: number | null, p90: number | null, p99: number | null }

/** An SVG line chart of latency percentiles against mesh size; no chart library needed for three lines. */
export function writePropagationPlot (file: string, measured: Point[], title: string): void {
  // a mesh size where nothing arrived has no percentiles: it is left out of the lines (the JSON says lost)
  const points = measured.filter((p): p is { nodes: number, p50: number, p90: number, p99: number } => p.p99 !== null && Number.isFinite(p.p99))
  const w = 640
  const h = 360
  const m = { left: 60, right: 110, top: 40, bottom: 50 }
  const xs = points.map(p => p.nodes)
  const maxY = Math.max(1, ...points.map(p => p.p99)) * 1.1
  const minX = Math.min(...xs)
  const maxX = Math.max(...xs)
  const x = (n: number) => m.left + ((n - minX) / Math.max(1, maxX - minX)) * (w - m.left - m.right)
  const y = (v: number) => h - m.bottom - (v / maxY) * (h - m.top - m.bottom)
  const series: Array<[keyof Point, string]> = [['p50', '#2b8a3e'], ['p90', '#e67700'], ['p99', '#c92a2a']]
  const ticks = Array.from({ length: 6 }, (_, i) => (maxY / 5) * i)
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${title}: p50, p90 and p99 in ms against the number of nodes</title>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>`,
    ...ticks.map(t => `<line x1="${m.left}" x2="${w - m.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${m.left - 8}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(0)}</text>`),
    ...xs.map(n => `<text x="${x(n)}" y="${h - m.bottom + 18}" text-anchor="middle">${n}</text>`),
    `<text x="${(m.left + w - m.right) / 2}" y="${h - 12}" text-anchor="middle">nodes in the mesh</text>`,
    `<text transform="translate(16 ${h / 2}) rotate(-90)" text-anchor="middle">hook accepted → script started (ms)</text>`,
    ...series.map(([key, color], i) => [
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(p => `${x(p.nodes)},${y(p[key])}`).join(' ')}"/>`,
      ...points.map(p => `<circle cx="${x(p.nodes)}" cy="${y(p[key])}" r="3" fill="${color}"/>`),
      `<text x="${w - m.right + 12}" y="${m.top + 16 + i * 18}" fill="${color}">${key}</text>`
    ].join('')),
    '</svg>'
  ]
  writeFileSync(file, `${svg.join('\n')}\n`)
}

/** One line of a time-series chart. */
export interface Series { label: string, color: string, points: Array<{ x: number, y: number }> }

/**
 * An SVG chart of several series against one x axis (the soak: RSS per node against minutes). A gap in a
 * series (a node that was down) is a break in its line: points with `y` NaN split it.
 */
export function writeSeriesPlot (file: string, series: Series[], labels: { title: string, x: string, y: string }): void {
  const w = 720
  const h = 380
  const m = { left: 60, right: 120, top: 40, bottom: 50 }
  const all = series.flatMap(s => s.points).filter(p => Number.isFinite(p.y))
  const maxX = Math.max(1, ...all.map(p => p.x))
  const maxY = Math.max(1, ...all.map(p => p.y)) * 1.1
  const x = (v: number) => m.left + (v / maxX) * (w - m.left - m.right)
  const y = (v: number) => h - m.bottom - (v / maxY) * (h - m.top - m.bottom)
  const yTicks = Array.from({ length: 6 }, (_, i) => (maxY / 5) * i)
  const xTicks = Array.from({ length: 7 }, (_, i) => (maxX / 6) * i)
  const lines = (s: Series) => {
    const runs: string[] = []
    let current: string[] = []
    for (const p of s.points) {
      if (Number.isFinite(p.y)) current.push(`${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`)
      else if (current.length > 0) { runs.push(current.join(' ')); current = [] }
    }
    if (current.length > 0) runs.push(current.join(' '))
    return runs.map(r => `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${r}"/>`).join('')
  }
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${labels.title}: ${labels.y} against ${labels.x}</title>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="22" text-anchor="middle" font-size="14">${labels.title}</text>`,
    ...yTicks.map(t => `<line x1="${m.left}" x2="${w - m.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${m.left - 8}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(0)}</text>`),
    ...xTicks.map(t => `<text x="${x(t)}" y="${h - m.bottom + 18}" text-anchor="middle">${t.toFixed(0)}</text>`),
    `<text x="${(m.left + w - m.right) / 2}" y="${h - 12}" text-anchor="middle">${labels.x}</text>`,
    `<text transform="translate(16 ${h / 2}) rotate(-90)" text-anchor="middle">${labels.y}</text>`,
    ...series.map((s, i) => `${lines(s)}<text x="${w - m.right + 12}" y="${m.top + 16 + i * 18}" fill="${s.color}">${s.label}</text>`),
    '</svg>'
  ]
  writeFileSync(file, `${svg.join('\n')}\n`)
}
