"""A configuration's network in one short line, for every report and message that names it."""

__all__ = ["network_text", "layer_rows"]


def network_text(config) -> str:
    """``64-64-10``, or with convolutions ``8x8x1-c8k3s2-128-10``: the input image, each ``[[conv]]`` layer as
    ``c<channels>k<kernel>s<stride>`` (``p<pool>`` with pooling, ``f`` when frozen), then the dense sizes."""
    if not config.convs:
        return "-".join(map(str, config.sizes))
    layers = ["x".join(map(str, config.input_shape))]
    layers += [f"c{c.channels}k{c.kernel}s{c.stride}" + (f"p{c.pool}" if c.pool > 1 else "")
               + ("" if c.trained else "f") for c in config.convs]
    return "-".join(layers + [str(n) for n in config.sizes[len(config.convs):]])


def layer_rows(config) -> list:
    """One row per weight layer: ``(layer, kind, input, output, weights, positions, forward MACs, trained)``;
    a convolution's input and output are images ``HxWxC``, its weights ``channels x (window + 1)``."""
    rows = []
    for spec in config.layers:
        conv = spec.conv
        if conv:
            kind = (f"conv {conv.kernel}x{conv.kernel}, stride {conv.stride}, padding {conv.padding}"
                    + (f", pool {conv.pool}" if conv.pool > 1 else "")
                    + (f", {conv.feedback} feedback" if conv.trained else ""))
            shape_in, shape_out = ("x".join(map(str, shape)) for shape in (conv.in_shape, conv.out_shape))
        else:
            kind, shape_in, shape_out = "dense", str(spec.n_in), str(spec.n_out)
        rows.append((spec.index, kind, shape_in, shape_out, f"{spec.n_out} x {spec.n_in + 1}", spec.positions,
                     spec.forward_macs, "yes" if spec.trained else "frozen"))
    return rows
