"""Camera and lens presets: sensor geometry, noise, gain, QE curve; focal length, vignetting, PSF.

Every figure carries a source and a reliability tag, in a comment and in the preset's ``sources`` entry:
[W] well established, [M] moderately reliable, [U] uncertain, [C] computed from the others (formula given),
"estimate" where no source was found (tags as in ``/work/shared/REFERENCES.md``). Only the Nikon D3 has a
photon-transfer characterisation among the sources found (REFERENCES §8); the D3S preset uses it (D3S-specific
measurements were not found; the D3S keeps the D3's 12 MP FX format). Everything else about noise and full
well is an estimate built by the rules below, so that the presets are at least mutually consistent.

Units (also in ``CAMERA_UNITS`` / ``LENS_UNITS``): lengths in metres, charges in electrons (e⁻), digital
numbers (DN, raw ADC units), gains in e⁻/DN, temperatures in °C, rates per second. Per-ISO tables are dicts
{ISO: value} at the base ISO, the standard full stops (100, 200, 400, …) up to the top native ISO and, for
dual-conversion-gain sensors, the switch ISO; :func:`gain_at_iso` and :func:`read_noise_at_iso` interpolate
them (log–log) for other ISOs (across a gain switch the interpolation is only a stand-in: cameras offer no
setting between the ISO below the switch and the switch).

Estimation rules for figures without a measurement
    full well at base ISO: FW = 833 e⁻/µm² × pitch² × (200 / base ISO). 833 e⁻/µm² is the D3's measured
        full well (59,500 e⁻ at its base ISO 200) per pixel area; the ISO factor follows from the
        saturation-based ISO speed (ISO 12232): a sensor with a lower base ISO saturates at a proportionally
        higher exposure, i.e. holds proportionally more charge per area at equal QE [C, U].
    gain: g(ISO) = FW / (white level − black level) × base ISO / ISO (the ADC clips at full well at base ISO;
        the gain scales as 1/ISO) [C].
    read noise: σ(ISO) = sqrt(σ_pre² + (σ_post · g(ISO))²), a pre-amplifier part in e⁻ and a post-amplifier
        part in DN (the model of Claff's and Kasson's photon-transfer analyses); dual-conversion-gain sensors
        switch σ_pre to a lower value at ``dual_gain_iso``. σ_pre, σ_post: estimates chosen so that the
        base-ISO engineering dynamic range FW/σ is near published figures for the class of sensor [U].
    dark current: 0.1–0.3 e⁻/s at 20 °C for the DSLRs (REFERENCES §8: "~0.1–1 e⁻/s/pixel for these CMOS
        sensors" [U]; 20 e⁻/s for the uncooled global-shutter star tracker), doubling every 6.5 °C (measured on a Canon EOS 1000D CMOS sensor, fredmi.fr [M]; other sensors
        5–8 °C).

Lens PSFs are mixtures of Gaussians with sigmas in µm at the sensor (``psf_components``; weights sum to 1);
:func:`psf_components_px` converts to pixels for a camera and evaluates the field dependence
σ(ρ) = σ_centre · (1 + psf_field_growth · ρ²), ρ = distance from the image centre / half-diagonal (0 centre,
1 corner). Vignetting: relative illumination I = cos(θ)^vignetting_cos_power · (1 − vignetting_mechanical · ρ²),
θ the field angle (:func:`relative_illumination`); 4 is the cos⁴ law of a thin lens; retrofocus wide angles
do better (their entrance pupil grows off axis; e.g. R. Kingslake, "Optics in Photography", SPIE 1992 [W]);
the mechanical term is the wide-open cat's-eye loss at the corner. All PSF and vignetting numbers are estimates; distortion coefficients
are zero (no sourced values). A 16 mm fisheye is not offered: its equisolid projection cannot be written as
the pinhole + Brown–Conrady model of :mod:`simulator.camera.projection` (which diverges at 90°); it needs a
fisheye projection model (e.g. OpenCV's Kannala–Brandt ``cv2.fisheye``) first.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ..errors import ScenarioError

# --- common figures ------------------------------------------------------------------------------
D3_FULL_WELL_E = 59_500.0  # mean of 53,400 e- (E. Martin, dpreview post 25663276) and 65,600 e- (P. Facey,
#                            brisk.org.uk/photog/d3summary.html), Nikon D3 at ISO 200 [M]
D3_PIXEL_PITCH_UM = 8.45  # REFERENCES §8 [W]
WELL_DENSITY_E_PER_UM2_ISO200 = D3_FULL_WELL_E / D3_PIXEL_PITCH_UM**2  # 833 e-/um^2 [C]
DARK_DOUBLING_C = 6.5  # fredmi.fr/en/rebel-xs/9-le-courant-dobscurite.html (Canon 1000D) [M]
DARK_REFERENCE_C = 20.0

CAMERA_UNITS = {
    "name": "-", "description": "-", "width": "px", "height": "px", "pixel_pitch_m": "m", "bit_depth": "bit",
    "base_iso": "ISO", "iso_range": "ISO (min, max) native", "gain_e_per_dn": "e-/DN per ISO",
    "read_noise_e": "e- rms per ISO", "read_noise_pre_e": "e- rms", "read_noise_post_dn": "DN rms",
    "dual_gain_iso": "ISO (None: single conversion gain)", "read_noise_pre_high_gain_e": "e- rms",
    "full_well_e": "e-", "black_level_dn": "DN", "white_level_dn": "DN",
    "dark_current_e_per_s": "e-/s per pixel at dark_current_temp_c", "dark_current_temp_c": "degC",
    "dark_current_doubling_c": "degC", "cfa": "Bayer pattern, rows top to bottom (None: monochrome)",
    "channels": "-", "qe_curve": "curve name (catalogs/bandpasses)", "peak_qe": "e-/photon (highest channel peak)",
    "sources": "-",
}
LENS_UNITS = {
    "name": "-", "description": "-", "focal_length_m": "m", "f_number": "-",
    "vignetting_cos_power": "- (4: cos^4 law)", "vignetting_mechanical": "- (fraction lost at the corner)",
    "psf_components": "list of {weight: -, sigma_um: um at the sensor, image centre}",
    "psf_field_growth": "- (sigma grows by 1 + g rho^2, rho = 1 at the corner)",
    "dist_coeffs": "OpenCV (k1, k2, p1, p2, k3), -", "sources": "-",
}


def _table_isos(base: int, hi: int, extra: int | None = None) -> list[int]:
    """The base ISO, the standard full stops 100·2^k above it up to ``hi``, and ``extra`` (e.g. a gain switch)."""
    isos = {int(base)}
    iso = 100
    while iso <= hi:
        if iso > base:
            isos.add(iso)
        iso *= 2
    if extra is not None and base <= extra <= hi:
        isos.add(int(extra))
    return sorted(isos)


def _model_tables(base_iso, iso_max, full_well, white, black, pre, post, dual_iso=None, pre_high=None):
    """Per-ISO gain [e-/DN] and read noise [e-] tables from the estimation rules (module docstring)."""
    g0 = full_well / (white - black)
    gain, rn = {}, {}
    for iso in _table_isos(base_iso, iso_max, dual_iso):
        g = g0 * base_iso / iso
        p = pre_high if (dual_iso is not None and iso >= dual_iso) else pre
        gain[iso] = round(g, 4)
        rn[iso] = round(math.sqrt(p**2 + (post * g) ** 2), 2)
    return gain, rn


def _estimated_full_well(pitch_um: float, base_iso: float) -> float:
    return round(WELL_DENSITY_E_PER_UM2_ISO200 * pitch_um**2 * 200.0 / base_iso, -2)


# --- cameras --------------------------------------------------------------------------------------
def _nikon_d3s() -> dict:
    # Gain (14-bit) of the Nikon D3, e-/DN: B. Claff, photonstophotos.net "D300 (and D3) Gain" [W for the D3];
    # ISO 12800 continues the 1/ISO law (Claff lists 0.06 there too).
    gain = {200: 3.88, 400: 1.84, 800: 0.91, 1600: 0.46, 3200: 0.24, 6400: 0.12, 12800: 0.06}
    # Read noise: two-component fit to D3 measurements [C]: ISO 200 = 18.4 e- (Claff optical black 4.73 DN x 3.88;
    # Facey 4.3 DN x 4.1 = 17.6; Martin 4.9 DN x 3.88 = 19.0), ISO 1600 = 6.6 e- (median of Facey 4.9, Martin 6.6,
    # Claff 9.3 e-) -> sigma_pre = 6.3 e-, sigma_post = 4.46 DN. The D3S is reputed better at high ISO; REFERENCES
    # §8 guesses 3-5 e- at ISO 800 [U]; this fit gives 7.5 e-.
    pre, post = 6.3, 4.46
    rn = {iso: round(math.sqrt(pre**2 + (post * g) ** 2), 2) for iso, g in gain.items()}
    return dict(
        name="nikon-d3s",
        description="Nikon D3S (2009), 12.1 MP FX CMOS; Pettit's 2012 star-trail camera",
        width=4256, height=2832, pixel_pitch_m=8.45e-6, bit_depth=14,  # REFERENCES §8 (D3 geometry) [W]
        base_iso=200, iso_range=(200, 12800),  # REFERENCES §8 [W]
        gain_e_per_dn=gain, read_noise_e=rn, read_noise_pre_e=pre, read_noise_post_dn=post,
        dual_gain_iso=None, read_noise_pre_high_gain_e=None,
        full_well_e=D3_FULL_WELL_E,  # D3 at ISO 200, mean of Martin and Facey [M]
        black_level_dn=0,  # no offset in Nikon D3 raws (Facey, d3summary) [M]
        white_level_dn=16383,  # 14-bit [W]
        dark_current_e_per_s=0.3, dark_current_temp_c=DARK_REFERENCE_C,  # estimate (REFERENCES §8 range [U])
        dark_current_doubling_c=DARK_DOUBLING_C,  # [M]
        cfa="RGGB", channels=("R", "G", "B"),  # Bayer RGGB, the project's convention (issue 3) [M]
        qe_curve="nikon_d700",  # D700 shares the D3's 12 MP FX sensor generation: Jiang et al. 2013 measured both
        #   and their curves agree within ~5 % at the peaks [C]; rawtoaces-data D700 curve [M]
        peak_qe=0.45,  # estimate: REFERENCES §8 "peak QE ~ 40-60 %" [U]; a 2009 front-illuminated sensor
        sources=dict(
            width="REFERENCES §8 (nies.ch D3 page; sensor DB 'NIKON D3S' 4256x2832) [W]",
            height="REFERENCES §8 [W]", pixel_pitch_m="REFERENCES §8, 8.45 um [W]", bit_depth="REFERENCES §8 [W]",
            base_iso="REFERENCES §8, native 200-12800 [W]", iso_range="REFERENCES §8 [W]",
            gain_e_per_dn="Claff, photonstophotos 'D300 (and D3) Gain', D3 14-bit [W for D3; D3S assumed equal]",
            read_noise_e="[C] two-component fit to D3 data of Claff, Facey, Martin (see read_noise_pre_e) [M]",
            read_noise_pre_e="[C] fit, 6.3 e- [M]", read_noise_post_dn="[C] fit, 4.46 DN [M]",
            dual_gain_iso="single conversion gain (D3 generation) [M]",
            read_noise_pre_high_gain_e="not applicable",
            full_well_e="D3 ISO 200: 53,400 e- (Martin) / 65,600 e- (Facey), mean [M]",
            black_level_dn="Facey: no black offset in D3 raws [M]", white_level_dn="2^14 - 1 [W]",
            dark_current_e_per_s="estimate within REFERENCES §8 '0.1-1 e-/s' [U]",
            dark_current_temp_c="reference temperature of the estimate", dark_current_doubling_c="fredmi.fr [M]",
            cfa="issue 3 convention [M]", channels="RGB Bayer [W]",
            qe_curve="rawtoaces-data Nikon D700 (Apache-2.0) as a D3-generation proxy [M]",
            peak_qe="estimate [U]",
        ),
    )


def _estimated_camera(name, description, width, height, pitch_um, bit_depth, base_iso, iso_max, black, pre, post,
                      dual_iso, pre_high, dark, qe_curve, peak_qe, cfa, geometry_source, notes) -> dict:
    white = 2**bit_depth - 1
    fw = _estimated_full_well(pitch_um, base_iso)
    gain, rn = _model_tables(base_iso, iso_max, fw, white, black, pre, post, dual_iso, pre_high)
    est = "estimate [U] (module docstring rules)"
    return dict(
        name=name, description=description, width=width, height=height, pixel_pitch_m=pitch_um * 1e-6,
        bit_depth=bit_depth, base_iso=base_iso, iso_range=(base_iso, iso_max), gain_e_per_dn=gain,
        read_noise_e=rn, read_noise_pre_e=pre, read_noise_post_dn=post, dual_gain_iso=dual_iso,
        read_noise_pre_high_gain_e=pre_high, full_well_e=fw, black_level_dn=black, white_level_dn=white,
        dark_current_e_per_s=dark, dark_current_temp_c=DARK_REFERENCE_C, dark_current_doubling_c=DARK_DOUBLING_C,
        cfa=cfa, channels=("R", "G", "B") if cfa else ("mono",), qe_curve=qe_curve, peak_qe=peak_qe,
        sources=dict(
            width=geometry_source, height=geometry_source, pixel_pitch_m=geometry_source,
            bit_depth=notes.get("bit_depth", geometry_source), base_iso=notes.get("iso", geometry_source),
            iso_range=notes.get("iso", geometry_source),
            gain_e_per_dn="[C] FW / (white - black) x base ISO / ISO; " + est,
            read_noise_e="[C] sqrt(pre^2 + (post x gain)^2); " + est,
            read_noise_pre_e=notes.get("read_noise", est), read_noise_post_dn=notes.get("read_noise", est),
            dual_gain_iso=notes.get("dual_gain", est), read_noise_pre_high_gain_e=notes.get("dual_gain", est),
            full_well_e="[C] 833 e-/um^2 (D3) x pitch^2 x 200/base ISO; " + est,
            black_level_dn=notes.get("black", "estimate [U]"), white_level_dn=f"2^{bit_depth} - 1 [C]",
            dark_current_e_per_s="estimate within REFERENCES §8 '0.1-1 e-/s' [U]",
            dark_current_temp_c="reference temperature of the estimate", dark_current_doubling_c="fredmi.fr [M]",
            cfa=notes.get("cfa", "issue 3 convention [M]"), channels=notes.get("channels", "[W]"),
            qe_curve=notes["qe_curve"], peak_qe="estimate [U]",
        ),
    )


_PHOTOGRAPHYLIFE = "photographylife.com/nikon-flagship-dslr-comparison, via REFERENCES §8 [W]"


def _nikon_d4() -> dict:
    return _estimated_camera(
        "nikon-d4", "Nikon D4 (2012), 16.2 MP FX CMOS", 4928, 3280, 7.30, 14, 100, 12800, black=0,
        pre=2.5, post=2.0,  # estimate: base-ISO DR ~13 EV (FW 88.8 ke- / 11 e-) [U]
        dual_iso=None, pre_high=None, dark=0.2, qe_curve="nikon_d700", peak_qe=0.50, cfa="RGGB",
        geometry_source=_PHOTOGRAPHYLIFE,
        notes=dict(qe_curve="no D4 curve found: Nikon D700 curve (rawtoaces-data) as a Nikon FX proxy, estimate",
                   iso="native 100-12800, REFERENCES §8 [W]; true base ISO 100 (M. Oelund, nikonuser.info) [M]",
                   black="estimate: 0 as in D3-generation NEFs [U]"))


def _nikon_d5() -> dict:
    return _estimated_camera(
        "nikon-d5", "Nikon D5 (2016), 20.8 MP FX CMOS; 12-15 bodies on the ISS in 2023", 5568, 3712, 6.45, 14, 100,
        102400, black=0,
        pre=2.5, post=3.3,  # estimate: base-ISO DR ~12.3 EV (FW 69.3 ke- / 14 e-) [U]
        dual_iso=None, pre_high=None, dark=0.2, qe_curve="nikon_d700", peak_qe=0.50, cfa="RGGB",
        geometry_source=_PHOTOGRAPHYLIFE,
        notes=dict(qe_curve="no D5 curve found: Nikon D700 curve (rawtoaces-data) as a Nikon FX proxy, estimate",
                   iso="native 100-102400, REFERENCES §8 [W]", black="estimate [U]"))


def _nikon_z9() -> dict:
    return _estimated_camera(
        "nikon-z9", "Nikon Z9 (2021), 45.7 MP stacked BSI CMOS; Pettit's 2024-25 star-trail camera",
        8256, 5504, 4.35, 14, 64, 25600, black=1008,
        pre=1.5, post=0.9,  # estimate: base-ISO DR ~14 EV (FW 49 ke- / 3.2 e-) [U]
        dual_iso=500, pre_high=1.0,  # second conversion gain from ISO 500 (bcgforums.com thread 17616) [M]
        dark=0.1, qe_curve="nikon_d700", peak_qe=0.55, cfa="RGGB",
        geometry_source="REFERENCES §8 (8256x5504, 35.9 mm wide -> 4.35 um [C]) [W]",
        notes=dict(qe_curve="no Z9 curve found: Nikon D700 curve (rawtoaces-data) as a Nikon proxy, estimate",
                   bit_depth="REFERENCES §8: 14-bit [U]", iso="native 64-25600, REFERENCES §8 [W]",
                   dual_gain="ISO 500 switch: bcgforums.com/threads/should-nikon-z9-shooters-avoid-iso-400.17616 [M]; "
                             "pre-amp noise values estimate [U]",
                   black="estimate: 1008 DN (14-bit) [U]"))


def _sony_a7s3() -> dict:
    return _estimated_camera(
        "sony-a7s3", "Sony alpha 7S III (2020), 12.1 MP (IMX510, quad-Bayer binned) BSI CMOS",
        4240, 2832, 8.40, 14, 80, 102400, black=512,
        pre=3.0, post=0.9,  # estimate: base-ISO DR ~14 EV (FW 147 ke- / 8.9 e-) [U]
        dual_iso=1600, pre_high=1.5,  # estimate: DR-Pix dual gain as on the alpha 7S (REFERENCES §8 [U])
        dark=0.1, qe_curve="sony_ilce7sm2", peak_qe=0.55, cfa="RGGB",
        geometry_source="REFERENCES §8 (alpha 7S: 4240x2832, 35.6 mm -> 8.40 um [C]) [U]; "
                        "alpha 7S III 48 MP quad-Bayer binned to 12 MP (petapixel 2021) [M]",
        notes=dict(qe_curve="rawtoaces-data Sony ILCE-7SM2 (alpha 7S II, Apache-2.0) as a proxy for the III [M]",
                   bit_depth="REFERENCES §8: 14-bit, lossy-compressed raw (compression artefacts in star "
                             "trails: rawdigger.com) [U]",
                   iso="native 80-102400, estimate [U]",
                   dual_gain="REFERENCES §8: DR-Pix dual gain, switch ~ISO 3200 on the alpha 7S [U]; 1600 estimate",
                   black="estimate: 512 DN, the usual Sony 14-bit black [U]"))


def _star_tracker_mono() -> dict:
    d = _estimated_camera(
        "star-tracker-mono", "generic 2048x2048 monochrome global-shutter CMOS star-tracker camera (4.2 MP, 5.5 um)",
        2048, 2048, 5.5, 12, 100, 100, black=64,
        pre=12.0, post=0.5, dual_iso=None, pre_high=None, dark=20.0,
        qe_curve="mono_fsi_cmos_estimate", peak_qe=None, cfa=None,
        geometry_source="scenarios/star_tracker_85mm.toml (2048 x 2048, 5.5 um): a CMOSIS CMV4000-class sensor [U]",
        notes=dict(qe_curve="catalogs/bandpasses/mono_fsi_cmos_estimate.csv, absolute QE, estimate",
                   iso="machine-vision camera: one analogue gain, labelled ISO 100 [estimate]",
                   read_noise="estimate: ~12 e-, typical of 5.5 um global-shutter pixels [U]",
                   black="estimate [U]", cfa="monochrome", channels="monochrome"))
    # Global-shutter pixels hold far less charge per area than the DSLR rule gives: override with an estimate.
    d["full_well_e"] = 13_500.0  # estimate, typical of 5.5 um global-shutter pixels [U]
    d["gain_e_per_dn"] = {100: round(13_500.0 / (4095 - 64), 4)}
    d["read_noise_e"] = {100: round(math.sqrt(12.0**2 + (0.5 * d["gain_e_per_dn"][100]) ** 2), 2)}
    d["sources"]["full_well_e"] = "estimate, typical of 5.5 um global-shutter pixels [U]"
    d["sources"]["gain_e_per_dn"] = "[C] FW / (white - black); estimate [U]"
    d["dark_current_e_per_s"] = 20.0  # estimate: global-shutter storage nodes are leaky; uncooled, 20 degC [U]
    d["sources"]["dark_current_e_per_s"] = "estimate (uncooled global-shutter CMOS) [U]"
    d["sources"]["peak_qe"] = "absolute QE curve, no rescaling (None) [estimate]"
    return d


_CAMERAS = {
    "nikon-d3s": _nikon_d3s,
    "nikon-d4": _nikon_d4,
    "nikon-d5": _nikon_d5,
    "nikon-z9": _nikon_z9,
    "sony-a7s3": _sony_a7s3,
    "star-tracker-mono": _star_tracker_mono,
}


# --- lenses ---------------------------------------------------------------------------------------
def _lens(name, description, focal_mm, f_number, cos_power, mechanical, components, growth, spec_source) -> dict:
    est = "estimate [U]"
    return dict(
        name=name, description=description, focal_length_m=focal_mm * 1e-3, f_number=f_number,
        vignetting_cos_power=cos_power, vignetting_mechanical=mechanical,
        psf_components=[dict(weight=w, sigma_um=s) for w, s in components], psf_field_growth=growth,
        dist_coeffs=(0.0, 0.0, 0.0, 0.0, 0.0),
        sources=dict(focal_length_m=spec_source, f_number=spec_source, vignetting_cos_power=est,
                     vignetting_mechanical=est, psf_components=est + "; diffraction alone: sigma ~ 0.42 lambda N",
                     psf_field_growth=est, dist_coeffs="zeros: no sourced coefficients"),
    )


_LENSES = {
    # Pettit 2012: 14 mm and 24 mm on the D3S (REFERENCES §1.2) [M]; focal lengths and apertures are the
    # lenses' names (manufacturer specifications) [W].
    "14-24mm-f2.8@14mm": lambda: _lens(
        "14-24mm-f2.8@14mm", "AF-S Nikkor 14-24mm f/2.8G ED at 14 mm, wide open", 14.0, 2.8, 2.5, 0.3,
        [(0.8, 4.0), (0.2, 12.0)], 1.0, "lens name / Nikon specification [W]"),
    "14-24mm-f2.8@24mm": lambda: _lens(
        "14-24mm-f2.8@24mm", "AF-S Nikkor 14-24mm f/2.8G ED at 24 mm, wide open", 24.0, 2.8, 3.0, 0.3,
        [(0.8, 3.5), (0.2, 10.0)], 0.8, "lens name / Nikon specification [W]"),
    "24mm-f1.4": lambda: _lens(
        "24mm-f1.4", "24 mm f/1.4 full-frame prime, wide open", 24.0, 1.4, 3.5, 0.6,
        [(0.7, 5.0), (0.3, 15.0)], 1.5, "lens name [W]"),
    "28mm-f1.4": lambda: _lens(
        "28mm-f1.4", "28 mm f/1.4 full-frame prime, wide open", 28.0, 1.4, 3.5, 0.55,
        [(0.75, 4.5), (0.25, 14.0)], 1.2, "lens name [W]"),
    "50mm-f1.4": lambda: _lens(
        "50mm-f1.4", "50 mm f/1.4 full-frame prime, wide open", 50.0, 1.4, 4.0, 0.55,
        [(0.7, 4.0), (0.3, 14.0)], 1.0, "lens name [W]"),
    "85mm-f1.4": lambda: _lens(
        "85mm-f1.4", "85 mm f/1.4 full-frame prime, wide open", 85.0, 1.4, 4.0, 0.5,
        [(0.75, 3.5), (0.25, 12.0)], 0.6, "lens name [W]"),
    "400mm-f2.8": lambda: _lens(
        "400mm-f2.8", "400 mm f/2.8 super-telephoto, wide open", 400.0, 2.8, 4.0, 0.3,
        [(0.9, 2.5), (0.1, 8.0)], 0.3, "lens name [W]"),
}
_LENS_ALIASES = {"14-24mm-f2.8": "14-24mm-f2.8@14mm"}


# --- public API -----------------------------------------------------------------------------------
def list_presets() -> dict[str, list[str]]:
    """Names of the camera and lens presets: {"cameras": [...], "lenses": [...]} (aliases included)."""
    return {"cameras": list(_CAMERAS), "lenses": list(_LENSES) + list(_LENS_ALIASES)}


def camera_preset(name: str, field: str = "camera.preset") -> dict:
    """A fresh dict of plain values for camera ``name`` (units: ``CAMERA_UNITS``); ScenarioError if unknown."""
    if name not in _CAMERAS:
        known = ", ".join(_CAMERAS)
        raise ScenarioError(field, f"unknown camera preset {name!r}; known presets: {known}", f"use one of: {known}")
    return copy.deepcopy(_CAMERAS[name]())


def lens_preset(name: str, pixel_pitch_m: float | None = None, field: str = "camera.lens") -> dict:
    """A fresh dict for lens ``name`` (units: ``LENS_UNITS``); ScenarioError if unknown.

    "14-24mm-f2.8" is the zoom at 14 mm. With ``pixel_pitch_m`` the dict also holds ``psf_components_px``:
    [{weight, sigma_px}] at the image centre for that pixel pitch.
    """
    key = _LENS_ALIASES.get(name, name)
    if key not in _LENSES:
        known = ", ".join(list(_LENSES) + list(_LENS_ALIASES))
        raise ScenarioError(field, f"unknown lens preset {name!r}; known presets: {known}", f"use one of: {known}")
    lens = copy.deepcopy(_LENSES[key]())
    if pixel_pitch_m is not None:
        lens["psf_components_px"] = psf_components_px(lens, pixel_pitch_m)
    return lens


def _loglog(table: dict, iso: float) -> float:
    isos = np.array(sorted(table), dtype=np.float64)
    vals = np.array([table[k] for k in sorted(table)], dtype=np.float64)
    if isos.size == 1:
        return float(vals[0])
    return float(np.exp(np.interp(np.log(iso), np.log(isos), np.log(vals))))


def gain_at_iso(camera: dict, iso: float) -> float:
    """Gain [e-/DN] at ``iso``: log–log interpolation of the preset's table, clamped at its ends."""
    return _loglog(camera["gain_e_per_dn"], iso)


def read_noise_at_iso(camera: dict, iso: float) -> float:
    """Read noise [e- rms] at ``iso``: log–log interpolation of the preset's table, clamped at its ends."""
    return _loglog(camera["read_noise_e"], iso)


def dark_current_at(camera: dict, temperature_c: float) -> float:
    """Dark current [e-/s per pixel] at ``temperature_c``, doubling every ``dark_current_doubling_c``."""
    dt = temperature_c - camera["dark_current_temp_c"]
    return camera["dark_current_e_per_s"] * 2.0 ** (dt / camera["dark_current_doubling_c"])


def psf_components_px(lens: dict, pixel_pitch_m: float, rho=0.0) -> list[dict]:
    """PSF mixture in pixels at normalised field radius ``rho`` (0 centre, 1 corner): [{weight, sigma_px}]."""
    grow = 1.0 + lens["psf_field_growth"] * np.asarray(rho, dtype=np.float64) ** 2
    sigma = [c["sigma_um"] * 1e-6 / pixel_pitch_m * grow for c in lens["psf_components"]]
    return [dict(weight=c["weight"], sigma_px=float(s) if np.ndim(s) == 0 else s)
            for c, s in zip(lens["psf_components"], sigma)]


def relative_illumination(lens: dict, theta_rad, rho) -> np.ndarray:
    """Vignetting factor I = cos(θ)^p · (1 − m ρ²) (0–1); θ field angle [rad], ρ = r / half-diagonal."""
    theta = np.asarray(theta_rad, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    natural = np.cos(theta) ** lens["vignetting_cos_power"]
    return natural * np.clip(1.0 - lens["vignetting_mechanical"] * rho**2, 0.0, 1.0)


def aperture_area_m2(lens: dict) -> float:
    """Entrance-pupil area π/4 (f/N)² [m²] (same as ``Camera.aperture_area_m2``)."""
    return math.pi / 4.0 * (lens["focal_length_m"] / lens["f_number"]) ** 2
