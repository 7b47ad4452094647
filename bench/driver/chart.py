"""The chart beside bench/results/latest.json: relay (io_uring), relay on
epoll where measured, and the Node peer, medians per
label, one panel per figure (envelopes/s, p99 latency, the target's CPU per
envelope, registrations/s), log scales since the two differ by up to 10x
and more. SVG, with no date in it, so an unchanged report draws the same
file."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"relay": "#1f77b4", "epoll": "#2ca02c", "peer": "#ff7f0e"}
PANELS = [
    ("msgs_per_s", "envelopes delivered per second", "{:.0f}"),
    ("p99_us", "p99 latency, us (register: connect -> VERIFIED)", "{:.0f}"),
    ("cpu_us_per_envelope", "target CPU us per envelope", "{:.2f}"),
    ("registrations_per_s", "registrations per second", "{:.0f}"),
]


def draw(rep, path):
    medians = rep["medians"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    for ax, (key, title, f) in zip(axes.flat, PANELS):
        labels = [lb for lb, by in medians.items() if any((by.get(t) or {}).get(key) for t in COLORS)]
        ax.set_title(title, fontsize=10)
        if not labels:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            continue
        width = 0.8 / len(COLORS)
        for i, t in enumerate(COLORS):
            values = [(medians[lb].get(t) or {}).get(key) or 0 for lb in labels]
            xs = [x + (i - (len(COLORS) - 1) / 2) * width for x in range(len(labels))]
            bars = ax.bar(xs, values, width, label=t, color=COLORS[t])
            ax.bar_label(bars, labels=[f.format(v) if v else "" for v in values], fontsize=7, rotation=90,
                         padding=2)
        ax.set_yscale("log")
        ax.margins(y=0.35)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    m = rep["machine"]
    fig.suptitle(f"relay vs Node peer: medians of {rep['runs']} runs at {rep.get('commit') or '?'}, "
                 f"{m['cpus']} cores ({m['cpu']})", fontsize=11)
    fig.tight_layout()
    plt.rcParams["svg.hashsalt"] = "reflector-bench"
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
