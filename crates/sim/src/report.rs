//! What a run amounts to: a summary with the figures admins decide on, a cost estimate,
//! and a self-contained HTML report (inline SVG charts, no scripts).

use std::fmt::Write as _;
use std::time::Duration;

use blankslate_core::Timestamp;
use serde::Serialize;

use crate::bound::{rate_bound, RateBound};
use crate::limits::ClockTime;
use crate::metrics::{Metrics, SEED_LAMBDA_GB};
use crate::run::{Outcome, Policy};
use crate::scenario::Scenario;

/// Prices used for estimates (us-east-1). Lambda and alarm prices are the design brief's;
/// DynamoDB on-demand and SNS prices are AWS's published list prices at the time of
/// writing. WorkSpaces API calls, AWS-service events on EventBridge and the first copy
/// of CloudTrail management events cost nothing.
pub mod prices {
    /// Lambda x86, per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_016_666_7;
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// A standard CloudWatch alarm, per month.
    pub const ALARM_MONTH: f64 = 0.10;
    /// DynamoDB on-demand, per write request unit.
    pub const DYNAMO_WRITE: f64 = 0.625 / 1e6;
    /// DynamoDB on-demand, per read request unit.
    pub const DYNAMO_READ: f64 = 0.125 / 1e6;
    /// SNS, per publish.
    pub const SNS_PUBLISH: f64 = 0.50 / 1e6;
}

/// Estimated dollars a month per 1,000 managed desktops, by service.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cost {
    /// CloudWatch alarms (one per managed desktop in alarm mode).
    pub alarms: f64,
    /// Lambda GB-seconds and requests.
    pub lambda: f64,
    /// The journal table.
    pub dynamodb: f64,
    /// SNS publishes (alarm notifications, admin notices).
    pub sns: f64,
    /// CloudTrail: management events' first copy is free.
    pub cloudtrail: f64,
    /// The sum.
    pub total: f64,
}

/// The figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The policy.
    pub policy: Policy,
    /// The seed.
    pub seed: u64,
    /// Managed desktops.
    pub managed: usize,
    /// Simulated hours.
    pub hours: f64,
    /// Sessions started.
    pub sessions: u64,
    /// Share of sessions owed a fresh desktop that got one (percent).
    pub fresh_share: f64,
    /// Share of users who had left by the end with a fresh desktop ready or on its way (percent).
    pub fresh_ready_share: f64,
    /// Rebuilds completed.
    pub rebuilds: u64,
    /// Control-plane overhead p50 / p99 (seconds).
    pub overhead_p50: Option<f64>,
    /// See `overhead_p50`.
    pub overhead_p99: Option<f64>,
    /// The least time the WorkSpaces API limit in force leaves for the calls of the
    /// rebuilds due in the run's busiest stretch (`crate::bound`); `None` without a limit
    /// or without rebuilds due.
    pub rate_bound: Option<RateBound>,
    /// `overhead_p50` over the rate bound's seconds.
    pub overhead_p50_to_bound: Option<f64>,
    /// `overhead_p99` over the rate bound's seconds (issue 11's target: at most 1.2 in a rush).
    pub overhead_p99_to_bound: Option<f64>,
    /// Disconnect to fresh desktop p50 / p99 (seconds).
    pub time_to_fresh_p50: Option<f64>,
    /// See `time_to_fresh_p50`.
    pub time_to_fresh_p99: Option<f64>,
    /// Real disconnect to the start of the grace period, p50 / p99 (seconds).
    pub detection_lag_p50: Option<f64>,
    /// See `detection_lag_p50`.
    pub detection_lag_p99: Option<f64>,
    /// Terminate + create calls per rebuild.
    pub calls_per_rebuild: Option<f64>,
    /// Lambda GB-seconds per rebuild (a model, see `run::estimated_seconds`).
    pub gb_seconds_per_rebuild: Option<f64>,
    /// Lambda GB-seconds in total.
    pub gb_seconds: f64,
    /// Sessions whose user waited for a desktop, and the mean wait (seconds).
    pub waits: u64,
    /// Mean wait of those (seconds).
    pub mean_wait: f64,
    /// WorkSpaces calls refused with ThrottlingException.
    pub throttled: u64,
    /// Most function instances at once.
    pub peak_concurrency: usize,
    /// Desktops terminated and never re-created.
    pub lost_desktops: u64,
    /// Rebuilds still under way when the run ended (started within the settle period).
    pub unfinished_at_end: u64,
    /// Computer objects left in the directory whose WorkSpace is gone.
    pub stale_computer_objects: u64,
    /// Broken invariants.
    pub violations: usize,
    /// Estimated $/month per 1,000 managed desktops.
    pub cost: Cost,
}

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

/// The figures of `outcome`, a run of `scenario`.
pub fn summarize(scenario: &Scenario, outcome: &Outcome) -> Summary {
    let m = &outcome.metrics;
    let managed = scenario.desks.iter().filter(|d| scenario.config.selector.matches(&d.spec)).count();
    let hours = (scenario.duration + scenario.settle).as_secs_f64() / 3600.0;
    let overhead_p50 = secs(m.overhead_percentile(50.0));
    let overhead_p99 = secs(m.overhead_percentile(99.0));
    let bound = rate_bound(&scenario.api, scenario.start, &m.rebuilds_due);
    let to_bound = |overhead: Option<f64>| Some(overhead? / bound.as_ref().filter(|b| b.seconds > 0.0)?.seconds);
    Summary {
        policy: outcome.policy,
        seed: outcome.seed,
        managed,
        hours,
        sessions: m.sessions,
        fresh_share: m.fresh_share(),
        fresh_ready_share: m.fresh_ready_share(),
        rebuilds: m.rebuilds,
        overhead_p50,
        overhead_p99,
        overhead_p50_to_bound: to_bound(overhead_p50),
        overhead_p99_to_bound: to_bound(overhead_p99),
        rate_bound: bound,
        time_to_fresh_p50: secs(m.time_to_fresh_percentile(50.0)),
        time_to_fresh_p99: secs(m.time_to_fresh_percentile(99.0)),
        detection_lag_p50: secs(crate::metrics::percentile(&m.detection_lag, 50.0)),
        detection_lag_p99: secs(crate::metrics::percentile(&m.detection_lag, 99.0)),
        calls_per_rebuild: m.calls_per_rebuild(),
        gb_seconds_per_rebuild: m.gb_seconds_per_rebuild(),
        gb_seconds: m.lambda_gb_seconds,
        waits: m.waits,
        mean_wait: if m.waits == 0 { 0.0 } else { m.wait_total.as_secs_f64() / m.waits as f64 },
        throttled: m.throttled.values().sum(),
        peak_concurrency: m.peak_concurrency,
        lost_desktops: m.lost_desktops,
        unfinished_at_end: m.unfinished_at_end,
        stale_computer_objects: m.stale_computer_objects,
        violations: outcome.violations.len(),
        cost: cost(scenario, outcome.policy, m, managed, hours),
    }
}

/// $/month per 1,000 managed desktops: the run's usage scaled to 30 days and 1,000 desks.
fn cost(scenario: &Scenario, policy: Policy, m: &Metrics, managed: usize, hours: f64) -> Cost {
    if managed == 0 || hours <= 0.0 {
        return Cost::default();
    }
    let scale = (30.0 * 24.0 / hours) * (1000.0 / managed as f64);
    let alarmed =
        policy == Policy::Seed || scenario.config.alarm_mode == blankslate_core::config::AlarmMode::PerWorkspace;
    let alarms = if alarmed { 1000.0 * prices::ALARM_MONTH } else { 0.0 };
    let requests: u64 = m.invocations.values().sum();
    let lambda = scale * (m.lambda_gb_seconds * prices::LAMBDA_GB_SECOND + requests as f64 * prices::LAMBDA_REQUEST);
    // A journal record is about 1 KB: a write is one WRU; a scan page (1 MB) about 128
    // RRU (eventually consistent), a get or query one.
    let writes = m.calls("Journal.PutItem") as f64;
    let reads = 128.0 * m.calls("Journal.Scan") as f64 + (m.calls("Journal.GetItem") + m.calls("Journal.Query")) as f64;
    let dynamodb = scale * (writes * prices::DYNAMO_WRITE + reads * prices::DYNAMO_READ);
    let alarm_notices = m.invocations.get("Workspace_Term_Rebuild").copied().unwrap_or(0);
    let sns = scale * (alarm_notices + m.calls("SNS.Publish")) as f64 * prices::SNS_PUBLISH;
    let total = alarms + lambda + dynamodb + sns;
    let _ = SEED_LAMBDA_GB;
    Cost { alarms, lambda, dynamodb, sns, cloudtrail: 0.0, total }
}

fn fmt_secs(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) if s < 7200.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

/// A bound below 10 s keeps a decimal: a rush the API keeps up with has a bound of a
/// fraction of a second, and "0 s" would read as no bound.
fn fmt_bound(bound: Option<&RateBound>) -> String {
    match bound.map(|b| b.seconds) {
        Some(s) if s < 10.0 => format!("{s:.1} s"),
        s => fmt_secs(s),
    }
}

fn fmt_ratio(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) if x < 10.0 => format!("{x:.2}x"),
        Some(x) => format!("{x:.0}x"),
    }
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// The terminal summary: one column per run.
pub fn table(summaries: &[Summary]) -> String {
    let mut rows: Vec<(&str, Vec<String>)> = vec![
        ("policy", summaries.iter().map(|s| format!("{:?}", s.policy).to_lowercase()).collect()),
        ("managed desktops", summaries.iter().map(|s| s.managed.to_string()).collect()),
        ("sessions", summaries.iter().map(|s| s.sessions.to_string()).collect()),
        ("fresh desktop at next session", summaries.iter().map(|s| format!("{:.1}%", s.fresh_share)).collect()),
        ("left users with fresh desktop", summaries.iter().map(|s| format!("{:.1}%", s.fresh_ready_share)).collect()),
        ("rebuilds", summaries.iter().map(|s| s.rebuilds.to_string()).collect()),
        ("overhead p50", summaries.iter().map(|s| fmt_secs(s.overhead_p50)).collect()),
        ("overhead p99", summaries.iter().map(|s| fmt_secs(s.overhead_p99)).collect()),
        (
            "rebuilds due in busiest stretch",
            summaries
                .iter()
                .map(|s| s.rate_bound.as_ref().map_or("-".into(), |b| format!("{} from {}", b.rebuilds, b.from)))
                .collect(),
        ),
        ("rate bound (API limit)", summaries.iter().map(|s| fmt_bound(s.rate_bound.as_ref())).collect()),
        ("overhead p50 / rate bound", summaries.iter().map(|s| fmt_ratio(s.overhead_p50_to_bound)).collect()),
        ("overhead p99 / rate bound", summaries.iter().map(|s| fmt_ratio(s.overhead_p99_to_bound)).collect()),
        ("detection lag p50", summaries.iter().map(|s| fmt_secs(s.detection_lag_p50)).collect()),
        ("detection lag p99", summaries.iter().map(|s| fmt_secs(s.detection_lag_p99)).collect()),
        ("disconnect to fresh p50", summaries.iter().map(|s| fmt_secs(s.time_to_fresh_p50)).collect()),
        ("disconnect to fresh p99", summaries.iter().map(|s| fmt_secs(s.time_to_fresh_p99)).collect()),
        ("terminate+create calls/rebuild", summaries.iter().map(|s| fmt_opt(s.calls_per_rebuild, 3)).collect()),
        ("Lambda GB-s/rebuild (model)", summaries.iter().map(|s| fmt_opt(s.gb_seconds_per_rebuild, 4)).collect()),
        (
            "users who waited",
            summaries.iter().map(|s| format!("{} (mean {})", s.waits, fmt_secs(Some(s.mean_wait)))).collect(),
        ),
        ("throttled calls", summaries.iter().map(|s| s.throttled.to_string()).collect()),
        ("peak Lambda concurrency", summaries.iter().map(|s| s.peak_concurrency.to_string()).collect()),
        ("lost desktops", summaries.iter().map(|s| s.lost_desktops.to_string()).collect()),
        ("rebuilds still running at end", summaries.iter().map(|s| s.unfinished_at_end.to_string()).collect()),
        ("stale computer objects at the end", summaries.iter().map(|s| s.stale_computer_objects.to_string()).collect()),
        ("invariant violations", summaries.iter().map(|s| s.violations.to_string()).collect()),
        ("$/month per 1,000 (est.)", summaries.iter().map(|s| format!("{:.2}", s.cost.total)).collect()),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, values) in rows.drain(..) {
        let _ = write!(out, "{key:<width$}");
        for v in values {
            let _ = write!(out, "  {v:>20}");
        }
        out.push('\n');
    }
    out
}

const COLOURS: [&str; 8] = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Chart size: width, height, left margin (y labels), plot top, plot bottom.
const W: f64 = 720.0;
const H: f64 = 290.0;
const LEFT: f64 = 44.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = H - 62.0;

/// The x axis of a report's time charts: minutes after the scenario's start, from `from`
/// to `to`, labelled with the time of day. Every run's charts use the same one, so a run
/// that stops calling still shows its quiet hours.
#[derive(Clone, Copy)]
struct Axis {
    start: Timestamp,
    from: f64,
    to: f64,
}

impl Axis {
    fn x(&self, minute: f64) -> f64 {
        LEFT + (W - LEFT - 10.0) * (minute - self.from) / (self.to - self.from).max(1.0)
    }

    fn contains(&self, minute: f64) -> bool {
        (self.from..=self.to).contains(&minute)
    }

    /// Tick marks at round times of day, at most about a dozen.
    fn ticks(&self) -> Vec<(f64, String)> {
        let span = self.to - self.from;
        let step = [5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 180.0, 360.0, 720.0, 1440.0]
            .into_iter()
            .find(|step| span / step <= 12.0)
            .unwrap_or(1440.0);
        // Round to the time of day, not to the start (a run may start at 07:30).
        let offset = f64::from(ClockTime::of(self.start, self.start).since_midnight().as_secs() as u32) / 60.0;
        let mut minute = ((self.from + offset) / step).ceil() * step - offset;
        let mut out = Vec::new();
        while minute <= self.to {
            let at = self.start + Duration::from_secs_f64(minute.max(0.0) * 60.0);
            // The next day's hours as a clock shows them.
            let of_day = ClockTime::of(self.start, at).since_midnight().as_secs() % 86_400;
            out.push((minute, format!("{:02}:{:02}", of_day / 3600, of_day / 60 % 60)));
            minute += step;
        }
        out
    }
}

/// A vertical line across a time chart, labelled at its top.
struct Marker {
    minute: f64,
    label: String,
}

fn svg_open(title: &str) -> String {
    format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\">",
        esc(title)
    )
}

/// Legend entries laid out left to right, wrapping at the chart's width.
fn legend(svg: &mut String, names: &[&str]) {
    let (mut x, mut y) = (LEFT + 10.0, BOTTOM + 34.0);
    for (k, name) in names.iter().enumerate() {
        // About 6.2 px a character at 11 px.
        let width = 14.0 + 6.2 * name.chars().count() as f64 + 14.0;
        if x + width > W && x > LEFT + 10.0 {
            (x, y) = (LEFT + 10.0, y + 14.0);
        }
        let colour = COLOURS[k % COLOURS.len()];
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{y}\" font-size=\"11\">{}</text>",
            y - 9.0,
            x + 14.0,
            esc(name)
        );
        x += width;
    }
}

/// A line chart over time: each series holds one value every `step` minutes from the
/// scenario's start.
fn line_chart(title: &str, axis: Axis, step: f64, series: &[(&str, Vec<f64>)], markers: &[Marker]) -> String {
    line_chart_to(title, axis, step, series, markers, visible_max(axis, step, series))
}

/// The largest value of `series` within `axis`.
fn visible_max(axis: Axis, step: f64, series: &[(&str, Vec<f64>)]) -> f64 {
    series
        .iter()
        .flat_map(|(_, v)| v.iter().enumerate().filter(|&(i, _)| axis.contains(i as f64 * step)).map(|(_, &y)| y))
        .fold(0.0f64, f64::max)
}

/// [`line_chart`] with a given top of the y axis, so the same chart of two runs can be
/// compared side by side.
fn line_chart_to(
    title: &str,
    axis: Axis,
    step: f64,
    series: &[(&str, Vec<f64>)],
    markers: &[Marker],
    ymax: f64,
) -> String {
    let visible = |i: usize| axis.contains(i as f64 * step);
    let ymax = ymax.max(1.0);
    let y = |v: f64| BOTTOM - (BOTTOM - TOP) * v / ymax;
    let mut svg = svg_open(title);
    let _ = write!(svg, "<line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{}\" y2=\"{BOTTOM}\" stroke=\"#999\"/>", W - 10.0);
    let _ = write!(svg, "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{BOTTOM}\" stroke=\"#999\"/>");
    for (v, label) in [(ymax, format!("{ymax:.0}")), (ymax / 2.0, format!("{:.0}", ymax / 2.0)), (0.0, "0".into())] {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{label}</text>",
            LEFT - 4.0,
            y(v) + 4.0
        );
    }
    for (minute, label) in axis.ticks() {
        let x = axis.x(minute);
        let anchor = if x > W - 30.0 { "end" } else { "middle" };
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{BOTTOM}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#999\"/>\
             <text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"{anchor}\">{label}</text>",
            BOTTOM + 4.0,
            BOTTOM + 16.0
        );
    }
    for (k, (_, values)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|&(i, _)| visible(i))
            .map(|(i, &v)| format!("{:.1},{:.1}", axis.x(i as f64 * step), y(v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    legend(&mut svg, &series.iter().map(|(name, _)| *name).collect::<Vec<_>>());
    for (k, marker) in markers.iter().filter(|m| axis.contains(m.minute)).enumerate() {
        let x = axis.x(marker.minute);
        let anchor = if x > W * 0.7 { "end" } else { "start" };
        let dx = if anchor == "end" { -3.0 } else { 3.0 };
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{BOTTOM}\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"11\" fill=\"#c00\" text-anchor=\"{anchor}\">{}</text>",
            x + dx,
            TOP + 12.0 + 13.0 * k as f64,
            esc(&marker.label)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Running totals of a per-minute count.
fn cumulative(per_minute: &[u32]) -> Vec<f64> {
    per_minute
        .iter()
        .scan(0.0, |sum, &n| {
            *sum += f64::from(n);
            Some(*sum)
        })
        .collect()
}

/// The rebuild-progress charts: rebuilds due and done (running totals) for every run, the
/// whole run and around the busiest stretch, with the rate bound marked at the first
/// rebuild of the stretch plus the bound: where the last of its rebuilds' calls could be
/// made at the earliest.
fn progress_charts(axis: Axis, runs: &[(&Outcome, &Summary)]) -> String {
    let mut series: Vec<(String, Vec<f64>)> = Vec::new();
    let mut markers: Vec<Marker> = Vec::new();
    for (o, s) in runs {
        let name = format!("{:?}", o.policy).to_lowercase();
        let due = cumulative(&o.metrics.series.rebuilds_due_per_minute);
        if series.iter().all(|(n, v)| !n.starts_with("due") || *v != due) {
            series.push((format!("due ({name})"), due));
        }
        series.push((format!("done ({name})"), cumulative(&o.metrics.series.rebuilds_per_minute)));
        if let Some(b) = &s.rate_bound {
            let minute = (b.first_due + b.seconds) / 60.0;
            if let Some(m) = markers.iter_mut().find(|m| (m.minute - minute).abs() < 1e-9) {
                m.label.push_str(&format!(", {name}"));
            } else {
                let label = format!("first due + bound ({}): {name}", fmt_bound(Some(b)));
                markers.push(Marker { minute, label });
            }
        }
    }
    let named: Vec<(&str, Vec<f64>)> = series.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let mut out = line_chart("Rebuilds due and done (running totals), whole run", axis, 1.0, &named, &markers);
    // Around the busiest stretch of the first run: from just before it to when the first
    // run had done 99% of its rebuilds (or four bounds on), whichever is later.
    if let Some((o, b)) = runs.first().and_then(|(o, s)| Some((o, s.rate_bound.as_ref()?))) {
        let first = b.first_due / 60.0;
        let done = cumulative(&o.metrics.series.rebuilds_per_minute);
        let before = done.get(first as usize).copied().unwrap_or(0.0);
        let target = before + 0.99 * b.rebuilds as f64;
        let finished = done.iter().position(|&d| d >= target).map_or(axis.to, |m| m as f64);
        let to = (first + 4.0 * b.seconds / 60.0).max(finished) + 15.0;
        let zoom = Axis { from: (first - 15.0).max(axis.from), to: to.min(axis.to), ..axis };
        out.push_str(&line_chart(
            &format!("Rebuilds due and done around the busiest stretch ({} rebuilds due from {})", b.rebuilds, b.from),
            zoom,
            1.0,
            &named,
            &markers,
        ));
    }
    out
}

/// A histogram of durations (minutes), one bar group per run.
fn histogram(title: &str, runs: &[(&str, &[Duration])]) -> String {
    let (w, h, pad) = (720.0, 240.0, 40.0);
    let max_min = runs.iter().flat_map(|(_, v)| v.iter()).map(|d| d.as_secs_f64() / 60.0).fold(1.0f64, f64::max);
    let bins = 40usize;
    let width = (max_min / bins as f64).ceil().max(1.0);
    let counts: Vec<Vec<usize>> = runs
        .iter()
        .map(|(_, v)| {
            let mut c = vec![0usize; bins + 1];
            for d in v.iter() {
                c[((d.as_secs_f64() / 60.0 / width) as usize).min(bins)] += 1;
            }
            c
        })
        .collect();
    let ymax = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">",
        esc(title)
    );
    let _ =
        write!(svg, "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>", h - pad, w - 10.0, h - pad);
    let _ = write!(svg, "<text x=\"2\" y=\"16\" font-size=\"11\">{ymax:.0}</text>");
    let bar = (w - pad - 10.0) / (bins as f64 + 1.0);
    for (k, (name, _)) in runs.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let sub = bar / runs.len().max(1) as f64;
        for (i, &c) in counts[k].iter().enumerate() {
            let bh = (h - pad - 10.0) * c as f64 / ymax;
            let x = pad + bar * i as f64 + sub * k as f64;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{sub:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"/>",
                h - pad - bh
            );
        }
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            pad + 10.0 + 160.0 * k as f64,
            h - 31.0 + 12.0,
            pad + 24.0 + 160.0 * k as f64,
            h - 22.0 + 12.0,
            esc(name)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{:.0} min</text>",
        w - 10.0,
        h - pad + 14.0,
        width * bins as f64
    );
    svg.push_str("</svg></figure>");
    svg
}

/// The HTML report of one or more runs of one scenario (both policies side by side when
/// compared). Self-contained: inline CSS and SVG, the metrics as JSON at the end.
pub fn html(scenario: &Scenario, command: &str, runs: &[(&Outcome, &Summary)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>blankslate simulate: {}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:1500px;margin:1em auto;padding:0 1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}\
         th:first-child,td:first-child{{text-align:left}}.runs{{display:flex;flex-wrap:wrap;gap:1em}}\
         figure{{margin:0.5em 0}}figcaption{{font-weight:600}}pre{{background:#f6f6f6;padding:0.5em;overflow:auto;max-height:20em}}</style></head><body>",
        esc(&scenario.name)
    );
    let _ = write!(
        out,
        "<h1>blankslate simulate: {}</h1><p>{} desks, {:.0} simulated hours, selector <code>{}</code>, alarm mode {:?}, \
         WorkSpaces API limit {}. Reproduce with <code>{}</code>.</p>",
        esc(&scenario.name),
        scenario.desks.len(),
        (scenario.duration + scenario.settle).as_secs_f64() / 3600.0,
        esc(&scenario.config.selector.to_string()),
        scenario.config.alarm_mode,
        esc(&scenario.api.to_string()),
        esc(command)
    );
    let summaries: Vec<Summary> = runs.iter().map(|(_, s)| (*s).clone()).collect();
    let _ = write!(out, "<h2>Summary</h2><pre style=\"max-height:none\">{}</pre>", esc(&table(&summaries)));
    let minutes = (scenario.duration + scenario.settle).as_secs_f64() / 60.0;
    let axis = Axis { start: scenario.start, from: 0.0, to: minutes };
    out.push_str(
        "<h2>Rebuilds against the rate bound</h2><p>The rate bound is the least time, from the first rebuild \
         of the run's busiest stretch becoming due, in which the minimum WorkSpaces calls of that stretch's \
         rebuilds (a connection re-check, a terminate, a describe and a create each, 25 to a call) can be \
         made at the API limit in force; the dashed line marks where it ends.</p>",
    );
    out.push_str(&progress_charts(axis, runs));
    // Each run's charts, one column per run; the same chart has the same scales in every column.
    type Chart<'a> = (&'static str, f64, Vec<(&'a str, Vec<f64>)>);
    let to_f64 = |v: &[u32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let mut charts: Vec<[Chart; 3]> = runs
        .iter()
        .map(|(o, _)| {
            let series = &o.metrics.series;
            let states = series.states.iter().map(|(k, v)| (*k, to_f64(v))).collect();
            let calls = series
                .calls_per_minute
                .iter()
                .filter(|(op, _)| !op.starts_with("Journal") && !op.starts_with("SNS"))
                .map(|(k, v)| (*k, to_f64(v)))
                .collect();
            let step = f64::from(series.sample_minutes.max(1));
            [
                ("Managed desktops by state (and users waiting)", step, states),
                ("WorkSpaces and CloudWatch calls per minute by operation", 1.0, calls),
                (
                    "Lambda concurrency (most at once, per minute)",
                    1.0,
                    vec![("instances", to_f64(&series.concurrency_per_minute))],
                ),
            ]
        })
        .collect();
    // Every column lists the same operations in the same colours (one a run never called
    // has no line).
    let operations: std::collections::BTreeSet<&str> =
        charts.iter().flat_map(|c| c[1].2.iter().map(|(n, _)| *n)).collect();
    for c in &mut charts {
        let calls = &mut c[1].2;
        for &op in &operations {
            if !calls.iter().any(|(n, _)| *n == op) {
                calls.push((op, Vec::new()));
            }
        }
        calls.sort_by_key(|(n, _)| *n);
    }
    let tops: Vec<f64> =
        (0..3).map(|k| charts.iter().map(|c| visible_max(axis, c[k].1, &c[k].2)).fold(0.0, f64::max)).collect();
    out.push_str("<div class=\"runs\">");
    for ((outcome, _), run_charts) in runs.iter().zip(&charts) {
        let _ = write!(out, "<section><h2>{:?}</h2>", outcome.policy);
        for ((title, step, series), top) in run_charts.iter().zip(&tops) {
            out.push_str(&line_chart_to(title, axis, *step, series, &[], *top));
        }
        out.push_str("</section>");
    }
    out.push_str("</div>");
    let dists: Vec<(String, &[Duration])> =
        runs.iter().map(|(o, _)| (format!("{:?}", o.policy), o.metrics.time_to_fresh.as_slice())).collect();
    let dists: Vec<(&str, &[Duration])> = dists.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    out.push_str(&histogram("Time from disconnect to fresh desktop (rebuilds per bin)", &dists));
    if runs.iter().any(|(o, _)| !o.violations.is_empty()) {
        out.push_str("<h2>Violations</h2><ul>");
        for (o, _) in runs {
            for v in o.violations.iter().take(200) {
                let _ = write!(out, "<li>{:?} {} {}: {}</li>", o.policy, v.at, v.invariant, esc(&v.detail));
            }
        }
        out.push_str("</ul>");
    }
    let json = serde_json::to_string(&summaries).unwrap_or_default();
    let _ = writeln!(
        out,
        "<h2>Metrics (JSON)</h2><pre id=\"metrics\">{}</pre></body></html>",
        json.replace('&', "&amp;").replace('<', "&lt;")
    );
    out
}
