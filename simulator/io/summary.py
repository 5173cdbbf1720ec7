"""Human-readable summary of a product file (``startrail info``)."""
from __future__ import annotations

import numpy as np

from ..sky.catalog import star_names
from .hdf5 import open_product


def summarize(path, n_brightest: int = 10) -> str:
    """Multi-line text: provenance, time span, camera, attitude, star counts and the brightest trails."""
    with open_product(path) as f:
        t = f["truth/t"]
        cam = f["camera"].attrs
        st = f["truth/stars"]
        hip, vmag, electrons = st["hip"][...], st["vmag"][...], st["electrons"][...]
        signal = f["image/signal"]
        lines = [
            f"{path}",
            f"  scenario     {f.attrs['scenario_name']} (format {f.attrs['format']} {f.attrs['format_version']}, "
            f"startrail {f.attrs['software_version']}, seed {f.attrs['seed']}, run {f.attrs['run_id']})",
            f"  time         {t.attrs['start_utc']} UTC + {t.attrs['duration_s']:g} s ({t.shape[0]} knots)",
            f"  orbit        {f.attrs['orbit']}",
            f"  attitude     {f.attrs['attitude']}",
            f"  camera       {cam['width']}x{cam['height']} px, {cam['pixel_pitch_um']:g} um, "
            f"{cam['focal_length_mm']:g} mm f/{cam['f_number']:g}, fx {cam['fx']:.2f} px",
            f"  image        {signal.shape}, total {float(np.sum(signal[...], dtype=np.float64)):.4g} e-",
            f"  stars        {hip.size} visible at some knot (V <= {f['render'].attrs['mag_limit']:g})",
        ]
        if "truth/planets" in f:
            pg = f["truth/planets"]
            items = [f"{n.decode() if isinstance(n, bytes) else n} V {float(v.mean()):+.2f}"
                     for n, v in zip(pg["names"][...], pg["vmag"][...])]
            lines.append(f"  planets      {', '.join(items)}")
        if "truth/moon" in f:
            mg = f["truth/moon"]
            lines.append(f"  moon         V {float(mg['vmag'][...].mean()):+.2f}, "
                         f"{100 * float(mg['illuminated_fraction'][...].mean()):.0f}% lit, "
                         f"radius {float(mg['radius_px'][...].mean()):.1f} px")
        lines += _earth_lines(f)
        names = star_names()
        order = np.argsort(-electrons)[:n_brightest]
        if order.size:
            lines.append("  brightest trails:")
            lines.append("      HIP  name             V      electrons  visible")
            vis = st["visible"][...]
            tk = t[...]
            for j in order:
                frac = np.mean(vis[j]) if tk.size > 1 else float(vis[j].any())
                lines.append(f"  {hip[j]:>7d}  {names.get(int(hip[j]), ''):<15s} {vmag[j]:5.2f}  {electrons[j]:12.4g}  "
                             f"{100 * frac:5.1f}%")
    return "\n".join(lines)


def _earth_lines(f) -> list[str]:
    """The Earth at night in a product: limb model and setting stars, airglow, city lights, lightning."""
    lines = []
    limb = f["render"].attrs.get("limb")
    if limb is not None:
        text = f"  limb         {limb}"
        if "truth/stars/limb_knots" in f:
            text += f", {f['truth/stars/limb_knots/star'].shape[0]} shown stars setting through the air"
        lines.append(text)
    if "truth/airglow" in f:
        ag = f["truth/airglow"]
        layers = [k for k in ag if isinstance(ag[k], type(ag))]
        text = f"  airglow      {len(layers)} layers"
        if "time_samples" in ag:
            nodes, motion = ag["time_samples"][...], ag["band_motion_sigma"][...]
            text += (f", {int(nodes.min())}-{int(nodes.max())} time nodes per frame (band motion up to "
                     f"{float(motion.max()):.2f} sigma)" if nodes.min() != nodes.max() else
                     f", {int(nodes[0])} time node{'s' if nodes[0] > 1 else ''} per frame (band motion up to "
                     f"{float(motion.max()):.2f} sigma)")
        lines.append(text)
    if "truth/city_lights" in f:
        cl = f["truth/city_lights"]
        lines.append(f"  city lights  {cl['lat_deg'].shape[0]} lit cells seen, "
                     f"{float(np.sum(cl['electrons'][...])):.4g} e-")
    if "truth/lightning" in f:
        lt = f["truth/lightning"]
        visible = lt["visible"][...]
        lines.append(f"  lightning    {visible.size} flashes drawn, {int(np.sum(visible))} in the frame, "
                     f"{float(np.sum(lt['electrons'][...])):.4g} e-")
    return lines
