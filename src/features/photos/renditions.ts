// The sizes of the images derived from an original. Shared by the worker that
// renders them and the pages that describe them (srcset widths, width/height
// attributes), so a page never claims a size the file does not have.

/** Fit-inside boxes (never cropped, never enlarged). */
export const RENDITIONS = {
  /**
   * Gallery tiles are laid out in rows 200 CSS px high (120 on a phone), each as
   * wide as its shape needs, and a row may grow up to 1.3 times to fill the
   * width (features/photos/views/gallery.ts): 520 px of height is sharp at 2x
   * (and at 3x on a phone). The width lets a panorama fill a 1,040 px wide
   * row at 2x, at the widest shape the layout keeps (4:1).
   */
  thumbnail: { width: 2080, height: 520 },
  /** The viewer's image. */
  display: { width: 1600, height: 1600 },
} as const;

export type RenditionName = keyof typeof RENDITIONS;

/** The size sharp gives a `fit: 'inside', withoutEnlargement` resize of a width x height image. */
export function renditionSize(width: number, height: number, name: RenditionName): { width: number; height: number } {
  const box = RENDITIONS[name];
  const scale = Math.min(1, box.width / width, box.height / height);
  if (scale === 1) return { width, height };
  // sharp rounds the constrained side exactly and the other to the nearest pixel.
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
