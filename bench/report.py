"""report - turns the benchmark driver's results (a dict, also saved as
JSON) into a plain-text report, a Markdown report with the ratios
computed pair by pair (per round, then summarised) and the design targets
next to them, and PNG charts drawn with gnuplot.

Every figure is "median [p25-p75]" over rounds; a ratio A/B is computed
within each round (A and B measured back to back in the same process) and
then summarised the same way, so slow drifts of a shared machine cancel.
"""

import os
import shutil
import subprocess

import benchlib

APIS = ["getaddrinfo", "gethostbyname_r"]
BACKENDS = ["zk", "null", "const", "files", "dnsmasq"]
MODCELLS = ["zk-gethostbyname4_r", "zk-gethostbyname2_r", "lmdb-txn",
            "lmdb-renew", "lmdb-get"]


def fmt_ns(s):
    if s is None:
        return "-"
    m = s["median"]
    if m >= 1e6:
        return "%.1f ms [%.1f-%.1f]" % (m / 1e6, s["p25"] / 1e6, s["p75"] / 1e6)
    if m >= 1e4:
        return "%.1f µs [%.1f-%.1f]" % (m / 1e3, s["p25"] / 1e3, s["p75"] / 1e3)
    return "%.0f ns [%.0f-%.0f]" % (m, s["p25"], s["p75"])


def fmt_ratio(s):
    if s is None:
        return "-"
    m = s["median"]
    digits = 2 if m < 10 else 0
    return "%.*f× [%.*f-%.*f]" % (digits, m, digits, s["p25"], digits, s["p75"])


def fmt_diff(s):
    if s is None:
        return "-"
    return "%+.0f ns [%+.0f..%+.0f]" % (s["median"], s["p25"], s["p75"])


def size_label(n):
    n = int(n)
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def analyse(res):
    """Per size: cells summaries, ratios and module diffs."""
    out = {}
    for n, e in sorted(res["sizes"].items(), key=lambda kv: int(kv[0])):
        a = {"n": int(n), "entry": e}
        if "lookup_raw" in e:
            cells, verify, fails = benchlib.parse_batches(e["lookup_raw"])
            a["lookup"] = {k: benchlib.summary(list(v.values()))
                           for k, v in cells.items()}
            a["lookup_cells"] = cells
            a["verify_bad"] = [v for v in verify if v[-1] != "0"]
            a["fails"] = {k: v for k, v in fails.items() if v}
            r = {}
            for api in APIS:
                for kind in ("hit", "miss"):
                    zk = (api, "zk", kind)
                    r[(api, kind, "zk/null")] = benchlib.ratio(
                        cells, zk, (api, "null", kind))
                    r[(api, kind, "zk/const")] = benchlib.ratio(
                        cells, zk, (api, "const", kind))
                    r[(api, kind, "files/zk")] = benchlib.ratio(
                        cells, (api, "files", kind), zk)
                    r[(api, kind, "dnsmasq/zk")] = benchlib.ratio(
                        cells, (api, "dnsmasq", kind), zk)
            a["ratios"] = r
        if "modcost_raw" in e:
            cells, verify, fails = benchlib.parse_batches(e["modcost_raw"])
            a["mod"] = {k: benchlib.summary(list(v.values()))
                        for k, v in cells.items()}
            a["mod_verify_bad"] = [v for v in verify if v[-1] != "0"]
            a["mod_fails"] = {k: v for k, v in fails.items() if v}
            d = {}
            for kind in ("hit", "miss"):
                for raw in ("lmdb-txn", "lmdb-renew", "lmdb-get"):
                    d[(kind, raw)] = benchlib.diff(
                        cells, ("direct", "zk-gethostbyname4_r", kind),
                        ("direct", raw, kind))
            a["mod_diff"] = d
        out[int(n)] = a
    return out


def target_rows(an, zk):
    """(figure, target, measured, verdict) rows for design section 7."""
    rows = []

    def get(n):
        return an.get(n)

    for n, tgt in ((10000, 1.15), (100000, 1.3)):
        a = get(n)
        if not a or "ratios" not in a:
            continue
        for kind, floor in (("hit", "zk/const"), ("hit", "zk/null"),
                            ("miss", "zk/null")):
            s = a["ratios"].get(("getaddrinfo", kind, floor))
            if s:
                rows.append(("getaddrinfo %s, %s, %s records" %
                             (floor.replace("/", " / "), kind, size_label(n)),
                             "≤ %.2f×" % tgt, fmt_ratio(s),
                             "met" if s["median"] <= tgt else "NOT met"))
    for n in sorted(an):
        a = an[n]
        if "mod_diff" not in a:
            continue
        for raw in ("lmdb-txn", "lmdb-renew"):
            s = a["mod_diff"].get(("hit", raw))
            if s:
                rows.append(("_nss_zk_gethostbyname4_r − %s get, hit, %s" %
                             (raw, size_label(n)), "≤ +100 ns", fmt_diff(s),
                             "met" if s["median"] <= 100 else "NOT met"))
    a = get(10000)
    if a and "ratios" in a:
        for label, key, tgt in (("files", "files/zk", 300),
                                ("dnsmasq", "dnsmasq/zk", 15)):
            for kind in ("hit", "miss"):
                s = a["ratios"].get(("getaddrinfo", kind, key))
                if s:
                    rows.append(("zk faster than %s, getaddrinfo %s, 10k" %
                                 (label, kind), "≥ %d×" % tgt, fmt_ratio(s),
                                 "met" if s["median"] >= tgt else "NOT met"))
    if zk and zk.get("sizes"):
        for n, tgt in ((10000, 20), (100000, 100)):
            z = zk["sizes"].get(str(n))
            if z and z.get("single"):
                p99 = z["single"]["ack_to_visible_ms"]["p99"]
                rows.append(("propagation p99, single changes, %s" %
                             size_label(n), "≤ %d ms" % tgt, "%.1f ms" % p99,
                             "met" if p99 <= tgt else "NOT met"))
        for n, tgt in ((10000, 2.0), (100000, 15.0)):
            z = zk["sizes"].get(str(n))
            if z and z.get("initial_sync_s") is not None:
                v = z["initial_sync_s"]
                rows.append(("initial sync, %s" % size_label(n),
                             "≤ %g s" % tgt, "%.2f s" % v,
                             "met" if v <= tgt else "NOT met"))
        z = zk["sizes"].get("100000")
        if z and z.get("idle_rss_kb"):
            mb = z["idle_rss_kb"] / 1024
            rows.append(("zkcached RSS, 100k, steady (idle)", "≤ 64 MB",
                         "%.1f MB" % mb, "met" if mb <= 64 else "NOT met"))
        if z and z.get("rss_kb"):
            mb = z["rss_kb"] / 1024
            rows.append(("zkcached RSS, 100k, 0.5 s after the initial sync",
                         "≤ 64 MB", "%.1f MB" % mb,
                         "met" if mb <= 64 else "NOT met"))
        b = zk.get("barrier")
        if b and b.get("wake_ms"):
            p = b["wake_ms"]
            rows.append(("zkbarrier wait wake-up (p99)", "≤ 50 ms",
                         "%.1f ms (median %.1f)" % (p["p99"], p["p50"]),
                         "met" if p["p99"] <= 50 else "NOT met"))
    return rows


def machine_lines(res):
    m = res["machine"]
    return [
        "host: %s; CPU: %s; cores: %s; kernel: %s; glibc: %s; liblmdb: %s; %s"
        % (m.get("host"), m.get("cpu"), m.get("cores"), m.get("kernel"),
           m.get("glibc"), m.get("lmdb", "?"), m.get("dnsmasq", "")),
        "run: %s mode, %s .. %s, commit %s; load average at start %s, at end %s"
        % (res["mode"], res["started"], res.get("finished"),
           m.get("commit", "?"),
           "/".join("%.2f" % x for x in m["loadavg_start"]),
           "/".join("%.2f" % x for x in m.get("loadavg_end", (0, 0, 0)))),
        "rounds per cell: %d, batch ≈ %s ms per cell and round"
        % (res["config"]["rounds"], res["config"]["batch_ms"]),
    ]


def write_md(res, an, zk, base, charts):
    L = ["# zkhosts benchmark report", ""]
    L += ["- " + x for x in machine_lines(res)]
    L += ["", "Figures: median [p25-p75] over rounds. Ratios are computed "
          "per round (A and B measured back to back in the same process), "
          "then summarised.", ""]
    rows = target_rows(an, zk)
    if rows:
        L += ["## Targets (design §7)", "",
              "| figure | target | measured | |", "|---|---|---|---|"]
        L += ["| %s | %s | %s | %s |" % r for r in rows]
        L.append("")
    L += ["## Lookup cost per call (one process per size, A/B interleaved)",
          "", "null = do-nothing module (NOTFOUND at once); const = module "
          "answering a fixed address without lookup (the floor of a hit); "
          "files = the same hosts in a private /etc/hosts; dnsmasq = the "
          "same hosts served on loopback through a private resolv.conf.", ""]
    for api in APIS:
        L += ["### %s" % api, "",
              "| records | kind | " + " | ".join(BACKENDS) + " |",
              "|---|---|" + "---|" * len(BACKENDS)]
        for n, a in sorted(an.items()):
            if "lookup" not in a:
                continue
            for kind in ("hit", "miss"):
                L.append("| %s | %s | %s |" % (
                    size_label(n), kind, " | ".join(
                        fmt_ns(a["lookup"].get((api, b, kind)))
                        for b in BACKENDS)))
        L.append("")
        L += ["| records | kind | zk / null | zk / const | files / zk | "
              "dnsmasq / zk |", "|---|---|---|---|---|---|"]
        for n, a in sorted(an.items()):
            if "ratios" not in a:
                continue
            for kind in ("hit", "miss"):
                r = a["ratios"]
                L.append("| %s | %s | %s | %s | %s | %s |" % (
                    size_label(n), kind,
                    fmt_ratio(r[(api, kind, "zk/null")]),
                    fmt_ratio(r[(api, kind, "zk/const")]),
                    fmt_ratio(r[(api, kind, "files/zk")]),
                    fmt_ratio(r[(api, kind, "dnsmasq/zk")])))
        L.append("")
    bad = [(n, a["verify_bad"], a["fails"]) for n, a in an.items()
           if a.get("verify_bad") or a.get("fails")]
    if bad:
        L += ["**Wrong answers seen** (verify/fails): %r" % bad, ""]
    if any("mod" in a for a in an.values()):
        L += ["## The module's own cost (entry point called directly) vs raw "
              "LMDB", "",
              "lmdb-txn = txn_begin + get + abort; lmdb-renew = renew + get + "
              "reset; lmdb-get = get alone in an open txn. Difference = "
              "gethostbyname4_r − raw, per round.", "",
              "| records | kind | " + " | ".join(MODCELLS) +
              " | 4_r − txn | 4_r − renew |",
              "|---|---|" + "---|" * (len(MODCELLS) + 2)]
        for n, a in sorted(an.items()):
            if "mod" not in a:
                continue
            for kind in ("hit", "miss"):
                L.append("| %s | %s | %s | %s | %s |" % (
                    size_label(n), kind, " | ".join(
                        fmt_ns(a["mod"].get(("direct", c, kind)))
                        for c in MODCELLS),
                    fmt_diff(a["mod_diff"][(kind, "lmdb-txn")]),
                    fmt_diff(a["mod_diff"][(kind, "lmdb-renew")])))
        L.append("")
    L += ["## Data sets", "",
          "| records | hosts file | snapshot (hosts.mdb) | publish (copy+rename) "
          "| dnsmasq load | dnsmasq RSS |", "|---|---|---|---|---|---|"]
    for n, a in sorted(an.items()):
        e = a["entry"]
        L.append("| %s | %.1f MB | %.1f MB | %.1f ms | %s | %s |" % (
            size_label(n), e["hosts_bytes"] / 1e6, e["snapshot_bytes"] / 1e6,
            e["publish_ms"],
            "%.2f s" % e["dnsmasq_load_s"] if "dnsmasq_load_s" in e else
            "> %d s (left out)" % e["dnsmasq_timeout_s"]
            if "dnsmasq_timeout_s" in e else "-",
            "%.1f MB" % (e["dnsmasq_rss_kb"] / 1024)
            if e.get("dnsmasq_rss_kb") else "-"))
    L.append("")
    L += zk_md(zk)
    if charts:
        L += ["## Charts", ""]
        L += ["![%s](%s)" % (t, os.path.basename(p)) for t, p in charts]
        L.append("")
    with open(base + ".md", "w") as f:
        f.write("\n".join(L))


def zk_md(zk):
    if zk is None:
        return []
    L = ["## With ZooKeeper and zkcached", ""]
    if zk.get("skipped"):
        return L + ["Skipped: %s" % zk["skipped"], ""]
    L += zk.get("notes", [])
    L.append("")
    L += ["| records | initial sync | zkcached RSS after sync (peak) | "
          "RSS idle | single after idle p50 / max (n) | snapshot | "
          "single: ack→visible p50 / p99 / max (n) | burst of %s: last ack → "
          "all visible p50 / max (n) | per change in bursts p50 / p99 | "
          "poll-and-rewrite: ack→visible p50 / p99 / max (n) |"
          % zk.get("burst_size", 1000), "|---|---|---|---|---|---|---|---|---|---|"]
    for n, z in sorted(zk["sizes"].items(), key=lambda kv: int(kv[0])):
        def pct(d):
            if not d:
                return "-"
            return "%.1f / %.1f / %.1f ms (%d)" % (d["p50"], d["p99"],
                                                  d["max"], d["n"])
        s = z.get("single") or {}
        b = z.get("burst") or {}
        pr = z.get("pollrewrite") or {}
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            size_label(n),
            "%.2f s" % z["initial_sync_s"] if z.get("initial_sync_s") is not None else "-",
            ("%.1f MB (%.1f)" % (z["rss_kb"] / 1024, z.get("hwm_kb", 0) / 1024) +
             (", anon %.1f + file %.1f" % (z["rss_anon_kb"] / 1024,
                                           z["rss_file_kb"] / 1024)
              if z.get("rss_anon_kb") is not None else ""))
            if z.get("rss_kb") else "-",
            ("%.1f MB, anon %.1f + file %.1f" % (
                z["idle_rss_kb"] / 1024, z["idle_rss_anon_kb"] / 1024,
                z["idle_rss_file_kb"] / 1024)) if z.get("idle_rss_kb") else "-",
            ("%.1f / %.1f ms (%d)" % (z["cold_single_ms"]["p50"],
                                      z["cold_single_ms"]["max"],
                                      z["cold_single_ms"]["n"]))
            if z.get("cold_single_ms") else "-",
            "%.1f MB" % (z["snapshot_bytes"] / 1e6) if z.get("snapshot_bytes") else "-",
            pct(s.get("ack_to_visible_ms")),
            "%.1f / %.1f ms (%d)" % (b["all_visible_ms"]["p50"],
                                     b["all_visible_ms"]["max"],
                                     b["all_visible_ms"]["n"])
            if b.get("all_visible_ms") else "-",
            "%.1f / %.1f ms" % (b["per_change_ms"]["p50"],
                                b["per_change_ms"]["p99"])
            if b.get("per_change_ms") else "-",
            pct(pr.get("ack_to_visible_ms"))))
    L.append("")
    for n, z in sorted(zk["sizes"].items(), key=lambda kv: int(kv[0])):
        d0 = (z.get("single_delay0") or {}).get("ack_to_visible_ms")
        if d0:
            L += ["With `publish_delay = 0` (no batching window) at %s records, "
                  "single changes: p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d); "
                  "the default window is 5 ms." % (size_label(n), d0["p50"],
                                                    d0["p99"], d0["max"],
                                                    d0["n"]), ""]
    bar = zk.get("barrier")
    if bar and bar.get("wake_ms"):
        w = bar["wake_ms"]
        L += ["`zkbarrier wait` wake-up after the state is set: p50 %.1f ms, "
              "p99 %.1f ms, max %.1f ms (n=%d)" % (w["p50"], w["p99"],
                                                  w["max"], w["n"]), ""]
    elif bar and bar.get("skipped"):
        L += ["`zkbarrier wait`: skipped: %s" % bar["skipped"], ""]
    return L


def write_txt(res, an, zk, base):
    L = ["zkhosts benchmark report"] + machine_lines(res) + [""]
    rows = target_rows(an, zk)
    if rows:
        L.append("TARGETS (design section 7)")
        L += ["  %-58s %-10s %-28s %s" % r for r in rows]
        L.append("")
    for n, a in sorted(an.items()):
        L.append("== %s records (snapshot %.1f MB, publish %.1f ms)" % (
            size_label(n), a["entry"]["snapshot_bytes"] / 1e6,
            a["entry"]["publish_ms"]))
        for k, s in sorted(a.get("lookup", {}).items()):
            L.append("  %-16s %-8s %-5s %s  min %.0f max %.0f (n=%d)" % (
                k[0], k[1], k[2], fmt_ns(s), s["min"], s["max"], s["n"]))
        for k, s in sorted(a.get("ratios", {}).items()):
            if s:
                L.append("  ratio %-16s %-5s %-11s %s" % (k[0], k[1], k[2],
                                                         fmt_ratio(s)))
        for k, s in sorted(a.get("mod", {}).items()):
            L.append("  direct %-20s %-5s %s  min %.0f" % (k[1], k[2],
                                                          fmt_ns(s), s["min"]))
        for k, s in sorted(a.get("mod_diff", {}).items()):
            if s:
                L.append("  gethostbyname4_r - %-10s %-5s %s" % (k[1], k[0],
                                                                fmt_diff(s)))
        if a.get("verify_bad") or a.get("fails") or a.get("mod_verify_bad"):
            L.append("  WRONG ANSWERS: %r %r %r" % (
                a.get("verify_bad"), a.get("fails"), a.get("mod_verify_bad")))
        L.append("")
    L += [x.replace("**", "") for x in zk_md(zk)]
    with open(base + ".txt", "w") as f:
        f.write("\n".join(L) + "\n")


def gnuplot(script):
    if not shutil.which("gnuplot"):
        return False
    p = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    return p.returncode == 0


def charts(an, zk, base):
    out = []
    for api, short in (("getaddrinfo", "gai"), ("gethostbyname_r", "ghbn")):
        for kind in ("hit", "miss"):
            dat = base + "-%s-%s.dat" % (short, kind)
            rows = []
            for n, a in sorted(an.items()):
                if "lookup" not in a:
                    continue
                vals = []
                for b in BACKENDS:
                    s = a["lookup"].get((api, b, kind))
                    vals.append("%.4f" % (s["median"] / 1000) if s else "NaN")
                rows.append("%d %s" % (n, " ".join(vals)))
            if not rows:
                continue
            with open(dat, "w") as f:
                f.write("# records " + " ".join(BACKENDS) + " (µs per call)\n")
                f.write("\n".join(rows) + "\n")
            png = base + "-%s-%s.png" % (short, kind)
            plots = ", ".join(
                "'%s' using 1:%d with linespoints lw 2 title '%s'" %
                (dat, i + 2, b) for i, b in enumerate(BACKENDS))
            ok = gnuplot("""set terminal pngcairo size 800,500 noenhanced
set output '%s'
set logscale xy
set grid
set key top left
set xlabel 'records'
set ylabel 'µs per call (median), log scale'
set title '%s, %s: cost per call'
set format y '%%g'
plot %s
""" % (png, api, kind, plots))
            if not ok:
                ok = gnuplot(("set terminal png size 800,500\n" +
                              "set output '%s'\nset logscale xy\nset grid\n" +
                              "set key top left\nset title '%s %s'\nplot %s\n")
                             % (png, api, kind, plots))
            os.remove(dat)
            if ok:
                out.append(("%s %s" % (api, kind), png))
    rows = []
    for n, a in sorted(an.items()):
        if "mod" in a:
            rows.append("%d %s" % (n, " ".join(
                "%.1f" % a["mod"][("direct", c, "hit")]["median"]
                if ("direct", c, "hit") in a["mod"] else "NaN"
                for c in MODCELLS)))
    if rows:
        dat = base + "-modcost.dat"
        with open(dat, "w") as f:
            f.write("\n".join(rows) + "\n")
        png = base + "-modcost.png"
        plots = ", ".join("'%s' using 1:%d with linespoints lw 2 title '%s'" %
                          (dat, i + 2, c) for i, c in enumerate(MODCELLS))
        if gnuplot("""set terminal pngcairo size 800,500 noenhanced
set output '%s'
set logscale x
set grid
set key top left
set yrange [0:*]
set xlabel 'records'
set ylabel 'ns per call (median), hit'
set title 'module entry point vs raw LMDB get, same key, same snapshot'
plot %s
""" % (png, plots)):
            out.append(("module vs raw LMDB", png))
        os.remove(dat)
    if zk and zk.get("sizes"):
        series = []
        for n, z in sorted(zk["sizes"].items(), key=lambda kv: int(kv[0])):
            for key, label in (("single", "zk"), ("pollrewrite", "poll+rewrite")):
                xs = (z.get(key) or {}).get("samples_ms")
                if xs:
                    series.append(("%s %s" % (label, size_label(n)), sorted(xs)))
        if series:
            dats = []
            for i, (label, xs) in enumerate(series):
                dat = base + "-prop%d.dat" % i
                with open(dat, "w") as f:
                    for j, x in enumerate(xs):
                        f.write("%.3f %.4f\n" % (max(x, 0.01), (j + 1) / len(xs)))
                dats.append((dat, label))
            png = base + "-propagation.png"
            plots = ", ".join("'%s' using 1:2 with steps lw 2 title '%s'" % d
                              for d in dats)
            if gnuplot("""set terminal pngcairo size 800,500 noenhanced
set output '%s'
set logscale x
set grid
set key bottom right
set xlabel 'ms from ZooKeeper write acknowledged to visible via getaddrinfo'
set ylabel 'fraction of changes'
set title 'propagation (CDF)'
plot %s
""" % (png, plots)):
                out.append(("propagation CDF", png))
            for d, _ in dats:
                os.remove(d)
    return out


def write(res, base):
    an = analyse(res)
    zk = res.get("zk")
    ch = charts(an, zk, base)
    write_txt(res, an, zk, base)
    write_md(res, an, zk, base, ch)
