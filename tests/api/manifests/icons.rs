//! The Teams icons: sizes from the PNG header, the outline icon white on
//! transparent, and the committed files equal to what [`draw`] paints (run
//! `cargo test --test api manifests::icons::regenerate -- --ignored` after
//! changing the drawing).

use std::path::PathBuf;

use stagegate::manifests::{COLOR_ICON, OUTLINE_ICON};

/// The accent colour of the manifests (`accentColor`, `background_color`).
const ACCENT: [u8; 3] = [0x24, 0x45, 0x7A];
const SAMPLES: u32 = 4;

#[test]
fn icons_have_the_sizes_teams_requires() {
    assert_eq!(png_size(COLOR_ICON), (192, 192), "color.png is 192×192");
    assert_eq!(png_size(OUTLINE_ICON), (32, 32), "outline.png is 32×32");
}

#[test]
fn outline_icon_is_white_on_transparent_and_color_icon_is_opaque() {
    let outline = decode_rgba(OUTLINE_ICON);
    let mut transparent = 0;
    let mut opaque = 0;
    for pixel in outline.chunks_exact(4) {
        match pixel[3] {
            0 => transparent += 1,
            alpha => {
                assert_eq!(&pixel[..3], &[255, 255, 255], "visible pixels are white");
                if alpha == 255 {
                    opaque += 1;
                }
            }
        }
    }
    assert!(transparent > 200, "the background is transparent");
    assert!(opaque > 100, "the glyph is drawn ({opaque} opaque pixels)");

    let color = decode_rgba(COLOR_ICON);
    assert!(
        color.chunks_exact(4).all(|p| p[3] == 255),
        "no transparency"
    );
    assert!(
        color.chunks_exact(4).any(|p| p[..3] == [255, 255, 255]),
        "the white shield is there"
    );
}

#[test]
fn committed_icons_are_what_the_generator_draws() {
    assert_eq!(decode_rgba(COLOR_ICON), rgba(&draw(Icon::Color)));
    assert_eq!(decode_rgba(OUTLINE_ICON), rgba(&draw(Icon::Outline)));
}

/// Writes `manifests/teams/{color,outline}.png` from [`draw`].
#[test]
#[ignore = "regenerates the committed icons"]
fn regenerate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("manifests/teams");
    for icon in [Icon::Color, Icon::Outline] {
        std::fs::write(dir.join(icon.file()), encode(&draw(icon))).unwrap();
    }
}

/// Width and height from the IHDR chunk, which the PNG format puts first.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "IHDR is the first chunk");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn decode_rgba(bytes: &[u8]) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = &buffer[..info.buffer_size()];
    match info.color_type {
        png::ColorType::Rgba => pixels.to_vec(),
        png::ColorType::Rgb => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected colour type {other:?}"),
    }
}

#[derive(Clone, Copy)]
enum Icon {
    Color,
    Outline,
}

impl Icon {
    fn file(self) -> &'static str {
        match self {
            Self::Color => "color.png",
            Self::Outline => "outline.png",
        }
    }
}

struct Image {
    size: u32,
    /// RGB for the colour icon, RGBA for the outline.
    alpha: bool,
    data: Vec<u8>,
}

fn rgba(image: &Image) -> Vec<u8> {
    if image.alpha {
        return image.data.clone();
    }
    image
        .data
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect()
}

fn encode(image: &Image) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.size, image.size);
    encoder.set_color(if image.alpha {
        png::ColorType::Rgba
    } else {
        png::ColorType::Rgb
    });
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&image.data).unwrap();
    writer.finish().unwrap();
    out
}

/// A shield with a check mark: the gate that lets a request through. The
/// colour icon is a white shield on the accent colour with the check in the
/// accent colour; the outline icon is the white shield with the check cut
/// out, on transparent, filling more of its small square.
fn draw(icon: Icon) -> Image {
    let (size, shield) = match icon {
        Icon::Color => (192, Shield::new(0.24, 0.20, 0.82)),
        Icon::Outline => (32, Shield::new(0.38, 0.06, 0.96)),
    };
    let mut data = Vec::new();
    for py in 0..size {
        for px in 0..size {
            let mut white = 0;
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    let x = (f64::from(px) + (f64::from(sx) + 0.5) / f64::from(SAMPLES))
                        / f64::from(size);
                    let y = (f64::from(py) + (f64::from(sy) + 0.5) / f64::from(SAMPLES))
                        / f64::from(size);
                    if shield.contains(x, y) && !shield.on_check(x, y) {
                        white += 1;
                    }
                }
            }
            let cover = f64::from(white) / f64::from(SAMPLES * SAMPLES);
            match icon {
                Icon::Color => data.extend(ACCENT.map(|c| mix(c, 255, cover))),
                Icon::Outline => data.extend([255, 255, 255, mix(0, 255, cover)]),
            }
        }
    }
    Image {
        size,
        alpha: matches!(icon, Icon::Outline),
        data,
    }
}

fn mix(from: u8, to: u8, amount: f64) -> u8 {
    let value = f64::from(from) + (f64::from(to) - f64::from(from)) * amount;
    // In 0..=255 by construction (amount is a fraction).
    value.round().clamp(0.0, 255.0) as u8
}

/// In unit coordinates: straight sides from `top` to the shoulder, then
/// narrowing to a point at `tip`.
struct Shield {
    half_width: f64,
    top: f64,
    shoulder: f64,
    tip: f64,
}

impl Shield {
    fn new(half_width: f64, top: f64, tip: f64) -> Self {
        Self {
            half_width,
            top,
            shoulder: top + (tip - top) * 0.45,
            tip,
        }
    }

    fn contains(&self, x: f64, y: f64) -> bool {
        if y < self.top || y > self.tip {
            return false;
        }
        let dx = (x - 0.5).abs();
        if y <= self.shoulder {
            return dx <= self.half_width;
        }
        let t = (y - self.shoulder) / (self.tip - self.shoulder);
        dx <= self.half_width * (1.0 - t * t)
    }

    fn on_check(&self, x: f64, y: f64) -> bool {
        let w = self.half_width;
        let h = self.tip - self.top;
        let at = |fx: f64, fy: f64| (0.5 + fx * w, self.top + fy * h);
        let (a, b, c) = (at(-0.48, 0.46), at(-0.12, 0.66), at(0.52, 0.27));
        let half_thickness = 0.13 * w;
        distance_to_segment((x, y), a, b) <= half_thickness
            || distance_to_segment((x, y), b, c) <= half_thickness
    }
}

fn distance_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt()
}
