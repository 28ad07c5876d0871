// Charts as files: every d3 chart of the page (src/viz renders each as <figure class="chart"> holding an
// <svg>) serialised as a stand-alone SVG with its computed styles inlined (the page's CSS variables and
// theme do not travel with a file), and as a PNG drawn from that SVG on a canvas.

const STYLE_PROPS = [
  'fill', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-dasharray', 'stroke-opacity', 'opacity',
  'font-family', 'font-size', 'font-weight', 'font-style', 'text-anchor', 'dominant-baseline', 'visibility', 'display',
] as const;

export interface ChartRef {
  /** data-testid of the figure, or chart-<n>. */
  id: string;
  title: string;
  svg: SVGSVGElement;
}

/** The charts on the page (figures of src/viz with a drawn SVG), in document order. */
export function listCharts(root: ParentNode = document): ChartRef[] {
  const out: ChartRef[] = [];
  root.querySelectorAll('figure.chart').forEach((fig, i) => {
    const svg = fig.querySelector('svg');
    if (!svg) return;
    const title = fig.querySelector('.chart-title')?.textContent?.trim() || `chart ${i + 1}`;
    out.push({ id: fig.getAttribute('data-testid') || `chart-${i + 1}`, title, svg: svg as SVGSVGElement });
  });
  return out;
}

/** A file name from a chart title: lowercase words joined by '-'. */
export function chartFileName(title: string, ext: 'svg' | 'png'): string {
  const base = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'chart';
  return `layerlab-${base}.${ext}`;
}

/** Stand-alone SVG text: a clone with each element's computed style written inline, a background and a title. */
export function serializeSvg(svg: SVGSVGElement, opts: { title?: string; background?: string } = {}): { text: string; width: number; height: number } {
  const box = svg.getBoundingClientRect();
  const width = Math.round(Number(svg.getAttribute('width')) || box.width || 600);
  const height = Math.round(Number(svg.getAttribute('height')) || box.height || 300);
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const src = [svg, ...svg.querySelectorAll('*')];
  const dst = [clone, ...clone.querySelectorAll('*')];
  for (let i = 0; i < src.length && i < dst.length; i++) {
    const cs = getComputedStyle(src[i]);
    const decl = STYLE_PROPS.map((p) => [p, cs.getPropertyValue(p)] as const)
      .filter(([, v]) => v !== '')
      .map(([p, v]) => `${p}:${v}`)
      .join(';');
    if (decl) dst[i].setAttribute('style', decl);
    dst[i].removeAttribute('class');
  }
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('width', String(width));
  clone.setAttribute('height', String(height));
  clone.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const ns = 'http://www.w3.org/2000/svg';
  if (opts.background) {
    const bg = document.createElementNS(ns, 'rect');
    bg.setAttribute('width', '100%');
    bg.setAttribute('height', '100%');
    bg.setAttribute('fill', opts.background);
    clone.insertBefore(bg, clone.firstChild);
  }
  if (opts.title) {
    const t = document.createElementNS(ns, 'title');
    t.textContent = opts.title;
    clone.insertBefore(t, clone.firstChild);
  }
  return { text: '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(clone), width, height };
}

/** PNG of a serialised SVG at `scale` times its size (2 = sharp on slides). */
export async function svgToPng(svgText: string, width: number, height: number, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.decoding = 'sync';
    await new Promise<void>((ok, bad) => {
      img.onload = () => ok();
      img.onerror = () => bad(new Error('the chart could not be drawn as an image'));
      img.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2-D canvas in this browser');
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0, width, height);
    return await new Promise<Blob>((ok, bad) => canvas.toBlob((b) => (b ? ok(b) : bad(new Error('canvas gave no PNG'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Saves a blob as a file through a temporary link (the browser's download). */
export function downloadBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadText(name: string, text: string, type = 'text/plain'): void {
  downloadBlob(name, new Blob([text], { type: `${type};charset=utf-8` }));
}
