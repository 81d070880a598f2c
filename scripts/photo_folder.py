"""Builds an ImageFolder of real photographs (scripts/photo-folder.sh).

Each source photograph gives several images: the whole photograph, crops
of random size and place, mirror images, quarter turns, a grey version,
saved as JPEG, PNG, BMP, GIF, TIFF or WebP, with a few in less common
modes (16-bit grey PNG, CMYK JPEG, palette PNG). Classes are kinds of
scene. The result depends on the sources and the seed only.

    python3 photo_folder.py DEB_ROOT OUT COUNT
"""
import os
import random
import sys

from PIL import Image, ImageOps

SK = "python3-skimage/usr/lib/python3/dist-packages/skimage/data"
MATE = "mate-backgrounds/usr/share/backgrounds/mate"
SOURCES = {
    "animal": [SK + "/chelsea.png", SK + "/horse.png", MATE + "/nature/LadyBird.jpg", MATE + "/abstract/Elephants.jpg",
               MATE + "/nature/TwoWings.jpg"],
    "flower": [MATE + "/nature/FreshFlower.jpg", MATE + "/nature/YellowFlower.jpg", MATE + "/nature/Garden.jpg"],
    "landscape": [MATE + "/nature/Dune.jpg", MATE + "/nature/GreenMeadow.jpg", MATE + "/nature/Storm.jpg",
                  MATE + "/nature/Aqua.jpg"],
    "object": [SK + "/coffee.png", SK + "/rocket.jpg", SK + "/motorcycle_left.png", SK + "/astronaut.png"],
    "texture": [SK + "/grass.png", SK + "/gravel.png", SK + "/brick.png", MATE + "/nature/Wood.jpg",
                MATE + "/nature/RainDrops.jpg", MATE + "/nature/Blinds.jpg"],
    "grey": [SK + "/camera.png", SK + "/coins.png", SK + "/moon.png"],
    "space": [SK + "/hubble_deep_field.jpg", SK + "/retina.jpg"],
}
FORMATS = [("jpg", "JPEG"), ("png", "PNG"), ("jpg", "JPEG"), ("bmp", "BMP"), ("jpg", "JPEG"), ("gif", "GIF"),
           ("png", "PNG"), ("tif", "TIFF"), ("webp", "WEBP")]


def variant(img, rng, k):
    w, h = img.size
    if k % 5 == 1:
        img = ImageOps.mirror(img)
    if k % 5 in (2, 3):
        s = rng.uniform(0.35, 0.9)
        cw, ch = max(16, int(w * s)), max(16, int(h * rng.uniform(0.35, 0.9)))
        x, y = rng.randrange(0, w - cw + 1), rng.randrange(0, h - ch + 1)
        img = img.crop((x, y, x + cw, y + ch))
    if k % 5 == 4:
        img = img.transpose(rng.choice([Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270]))
    if k % 7 == 6:
        img = img.convert("L")
    # photographs of a few hundred pixels a side, as data sets hold them
    if max(img.size) > 640:
        img.thumbnail((640, 640), Image.Resampling.BICUBIC)
    return img


def save(img, path, fmt, rng):
    if fmt == "JPEG":
        img.convert("RGB" if img.mode != "L" else "L").save(path, fmt, quality=rng.choice([80, 90, 95]))
    elif fmt == "GIF":
        img.convert("RGB").quantize(256).save(path, fmt)
    else:
        img.save(path, fmt)


def main():
    root, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(0)
    sources = [(cls, os.path.join(root, p)) for cls in sorted(SOURCES) for p in SOURCES[cls]]
    images = [(cls, p, Image.open(p)) for cls, p in sources]
    for im in images:
        im[2].load()
    for cls in SOURCES:
        os.makedirs(os.path.join(out, cls), exist_ok=True)
    for i in range(count):
        cls, src, img = images[i % len(images)]
        k = i // len(images)
        v = variant(img.convert("RGB") if img.mode not in ("RGB", "L") else img, rng, k + i)
        ext, fmt = FORMATS[i % len(FORMATS)]
        name = "%s_%03d.%s" % (os.path.splitext(os.path.basename(src))[0], i, ext)
        path = os.path.join(out, cls, name)
        if i % 53 == 7 and v.mode == "L":
            v.convert("I").point(lambda p: p * 256).convert("I;16").save(path.rsplit(".", 1)[0] + ".png", "PNG")
        elif i % 59 == 11:
            v.convert("CMYK").save(path.rsplit(".", 1)[0] + ".jpg", "JPEG", quality=90)
        elif i % 61 == 13:
            v.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(path.rsplit(".", 1)[0] + ".png", "PNG")
        else:
            save(v, path, fmt, rng)


if __name__ == "__main__":
    main()
