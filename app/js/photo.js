// A camera photo made small (a canvas, longest side 1280 px, JPEG) and named by its SHA-256, which
// is how records refer to it and how it is uploaded (PUT /api/v1/blobs/{sha256}). The bytes are
// a real JPEG from the canvas, as the server checks that photo bytes match their type.

import { savePhoto } from './sync.js';
import { sha256Hex } from './sha256.js';

const MAX_SIDE = 1280;

/** Reads the chosen file; returns {hash, thumb (a data: URL for the preview)}; stores the bytes. */
export async function takePhoto(file) {
  const img = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(img.width * scale);
  canvas.height = Math.round(img.height * scale);
  canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
  img.close?.();
  const blob = await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('photo'))), 'image/jpeg', 0.72));
  const bytes = await blob.arrayBuffer();
  const hash = await sha256Hex(bytes);
  await savePhoto(hash, bytes, 'image/jpeg');
  const thumb = document.createElement('canvas');
  const ts = 160 / Math.max(canvas.width, canvas.height);
  thumb.width = Math.round(canvas.width * ts);
  thumb.height = Math.round(canvas.height * ts);
  thumb.getContext('2d').drawImage(canvas, 0, 0, thumb.width, thumb.height);
  return { hash, thumb: thumb.toDataURL('image/jpeg', 0.6) };
}
