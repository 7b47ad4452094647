// QR codes with the `qr` npm package (copied into vendor/qr by `make www`):
// this tab's invite link as a picture, and reading someone else's, from the
// camera or from a picture file. The decoder loads only when first needed.
import encodeQR from './vendor/qr/index.js';

// The invite link as a GIF data URL (the page's CSP allows data: images).
// Four modules of quiet zone, as the QR standard asks, so phones read it.
export function inviteQrDataUrl(link) {
  return encodeQR(link, 'data-url', { scale: 4, border: 4, ecc: 'medium' });
}

const decoder = () => import('./vendor/qr/decode.js');

// The text of the QR code in a picture file; throws when there is none.
export async function readQrPicture(file) {
  const { default: decodeQR } = await decoder();
  const bitmap = await createImageBitmap(file);
  try {
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    return decodeQR(ctx.getImageData(0, 0, bitmap.width, bitmap.height), { effort: Infinity, timeLimit: Infinity });
  } finally {
    bitmap.close();
  }
}

// Reads QR codes from the camera into `video` until accept(text) returns
// true or stop() is called; resolves with stop(). Frames without a code are
// skipped, as the decoder's documentation says to.
export async function scanCamera(video, accept) {
  const { QRCanvas, frameLoop, rearCamera } = await import('./vendor/qr/dom.js');
  const camera = await rearCamera(video);
  const canvas = new QRCanvas();
  let cancel = null;
  const stop = () => {
    cancel?.();
    camera.stop();
    video.srcObject = null;
  };
  let busy = false;
  let done = false;
  cancel = frameLoop(() => {
    if (busy || done) return;
    busy = true;
    // readFrame resolves with the text, or undefined for a frame without a code.
    Promise.resolve(camera.readFrame(canvas)).then((text) => {
      if (!done && typeof text === 'string' && accept(text)) {
        done = true;
        stop();
      }
    }, () => { /* a frame the decoder could not use */ }).finally(() => { busy = false; });
  });
  return stop;
}
