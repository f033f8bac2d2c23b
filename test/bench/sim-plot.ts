import { writeFileSync } from 'node:fs'

interface Row { scenario: string, nodes: number, p50: number, p99: number }
interface Point { label: string, nodes: number, p50: number, p99: number }

const COLORS = ['#868e96', '#1971c2', '#e67700', '#c92a2a', '#2b8a3e', '#7048e8']

/**
 * SVG chart of the simulation: p50 (solid) and p99 (dashed) against the fleet size on a log axis, one colour
 * per scenario, with the measured 100-node figures as black marks.
 */
export function writeSimPlot (file: string, rows: Row[], measured: Point[]): void {
  const w = 760
  const h = 420
  const m = { left: 64, right: 290, top: 40, bottom: 50 }
  const sizes = [...new Set(rows.map(r => r.nodes))].sort((a, b) => a - b)
  const finite = rows.filter(r => Number.isFinite(r.p99))
  const maxY = Math.max(1, ...finite.map(r => r.p99), ...measured.map(p => p.p99)) * 1.1
  const lx = (n: number) => Math.log10(n)
  const x = (n: number) => m.left + ((lx(n) - lx(sizes[0]!)) / Math.max(1e-9, lx(sizes.at(-1)!) - lx(sizes[0]!))) * (w - m.left - m.right)
  const y = (v: number) => h - m.bottom - (v / maxY) * (h - m.top - m.bottom)
  const scenarios = [...new Set(rows.map(r => r.scenario))]
  const ticks = Array.from({ length: 6 }, (_, i) => (maxY / 5) * i)
  const line = (pts: Row[], key: 'p50' | 'p99', color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2"${key === 'p99' ? ' stroke-dasharray="6 4"' : ''} points="${pts.filter(p => Number.isFinite(p[key])).map(p => `${x(p.nodes)},${y(p[key])}`).join(' ')}"/>`
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12" role="img">`,
    '<title>Simulated propagation (p50 solid, p99 dashed) against fleet size, with the measured 100-node figures</title>',
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${(w - m.right + m.left) / 2}" y="22" text-anchor="middle" font-size="14">FST partial mesh: simulated p50 (solid) / p99 (dashed)</text>`,
    ...ticks.map(t => `<line x1="${m.left}" x2="${w - m.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${m.left - 8}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(0)}</text>`),
    ...sizes.map(n => `<text x="${x(n)}" y="${h - m.bottom + 18}" text-anchor="middle">${n.toLocaleString('en')}</text>`),
    `<text x="${(m.left + w - m.right) / 2}" y="${h - 12}" text-anchor="middle">nodes (log scale)</text>`,
    `<text transform="translate(16 ${h / 2}) rotate(-90)" text-anchor="middle">publish → script started (ms)</text>`,
    ...scenarios.map((s, i) => {
      const pts = rows.filter(r => r.scenario === s).sort((a, b) => a.nodes - b.nodes)
      const color = COLORS[i % COLORS.length]!
      return `${line(pts, 'p50', color)}${line(pts, 'p99', color)}<text x="${w - m.right + 14}" y="${m.top + 14 + i * 18}" fill="${color}">${s}</text>`
    }),
    ...measured.map((p, i) => {
      const shape = i === 0 ? 'rect' : 'diamond'
      const mark = (v: number) => shape === 'rect'
        ? `<rect x="${x(p.nodes) - 4}" y="${y(v) - 4}" width="8" height="8" fill="black"/>`
        : `<polygon points="${x(p.nodes)},${y(v) - 6} ${x(p.nodes) + 6},${y(v)} ${x(p.nodes)},${y(v) + 6} ${x(p.nodes) - 6},${y(v)}" fill="black"/>`
      return `${mark(p.p50)}${mark(p.p99)}<text x="${w - m.right + 14}" y="${m.top + 14 + (scenarios.length + i) * 18}">${shape === 'rect' ? '■' : '◆'} ${p.label} (p50, p99)</text>`
    }),
    '</svg>'
  ]
  writeFileSync(file, `${svg.join('\n')}\n`)
}
