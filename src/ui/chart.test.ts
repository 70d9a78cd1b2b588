import { describe, expect, it } from 'vitest';
import { axisStep, dayBarChart } from './chart.js';

const chart = (points: { day: string; value: number }[]) => String(dayBarChart({ id: 'c', label: 'Uploads', unit: 'uploads', points }));
const texts = (svg: string, cls: string) =>
  [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => m[1]!);

describe('dayBarChart', () => {
  it('draws axes with values and dates, a value over the bars, and a summary for screen readers', () => {
    const svg = chart([
      { day: '2026-12-01', value: 1 },
      { day: '2026-12-02', value: 0 },
      { day: '2026-12-03', value: 3 },
    ]);
    expect(svg).toMatch(/^<svg class="chart-svg" id="c-chart" viewBox="0 0 480 200" role="img"/);
    expect(svg).toContain('aria-label="Uploads per day from 1 Dec 2026 to 3 Dec 2026: 4 in all, at most 3 in a day (3 Dec 2026)"');
    expect(texts(svg, 'chart-tick').slice(0, 4)).toEqual(['0', '1', '2', '3']);
    expect(texts(svg, 'chart-tick').slice(4)).toEqual(['1 Dec', '2 Dec', '3 Dec']);
    expect(texts(svg, 'chart-value')).toEqual(['1', '3']);
    expect(svg).toContain('<title>3 Dec 2026: 3 uploads</title>');
    // Colours come from the stylesheet (currentColor, theme variables), so dark mode applies.
    expect(svg).not.toMatch(/fill="|stroke="|style="/);
  });

  it('places days by date: a missing day is a gap, and a long series labels only its peak and about five dates', () => {
    const points = Array.from({ length: 30 }, (_, i) => ({ day: `2026-11-${String(i + 1).padStart(2, '0')}`, value: i === 9 ? 12 : 1 }));
    const svg = chart(points);
    expect(texts(svg, 'chart-value')).toEqual(['12']);
    expect(texts(svg, 'chart-tick').filter((t) => / Nov$/.test(t))).toEqual(['1 Nov', '7 Nov', '13 Nov', '19 Nov', '25 Nov', '30 Nov']);
    const gap = chart([
      { day: '2026-12-01', value: 1 },
      { day: '2026-12-04', value: 1 },
    ]);
    const xs = [...gap.matchAll(/<rect x="([\d.]+)"/g)].map((m) => Number(m[1]));
    const width = Number(gap.match(/<rect [^>]*width="([\d.]+)"/)![1]);
    // Four day slots: the second bar is three slots after the first.
    expect(xs[1]! - xs[0]!).toBeCloseTo((3 * width) / 0.7, 0);
  });

  it('steps the y axis by 1, 2 or 5 times a power of ten', () => {
    expect([0, 3, 7, 12, 40, 99, 1234].map(axisStep)).toEqual([1, 1, 2, 5, 10, 50, 500]);
  });
});
