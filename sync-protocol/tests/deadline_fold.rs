//! Data-driven cases of the fold under the default 1-1-2-4 policy (60/60/120/240 minutes,
//! due soon at 75%) unless a case says otherwise.

mod common;

use std::collections::BTreeMap;

use common::{check, check_with, ticket};
use fieldvisit_sync_protocol::deadline::{Override, Policy, Severity, Stage, TicketFacts};

const UNTOUCHED: &str = "c1 dispatch not_started; c1 on_site not_started; c1 close not_started";

#[test]
fn fresh_ticket_is_pending_in_classify() {
    check("", 10, &format!("c1 classify pending start=0 due=60; {UNTOUCHED}; open; stage=classify; cycle=1"));
}

#[test]
fn due_soon_starts_at_75_percent_of_the_window() {
    check("", 44, &format!("c1 classify pending; {UNTOUCHED}"));
    check("", 45, &format!("c1 classify due_soon; {UNTOUCHED}"));
    check("", 59, &format!("c1 classify due_soon; {UNTOUCHED}"));
}

#[test]
fn overdue_from_the_due_time_on() {
    let p = check("", 60, &format!("c1 classify overdue; {UNTOUCHED}; overdue_by=0"));
    assert_eq!(p.current_stage, Some(Stage::Classify));
    check("", 75, &format!("c1 classify overdue; {UNTOUCHED}; overdue_by=15"));
}

#[test]
fn not_overdue_means_no_overdue_by() {
    let p = check("", 59, &format!("c1 classify due_soon; {UNTOUCHED}"));
    assert_eq!(p.overdue_by_ms, None);
}

#[test]
fn all_stages_on_time() {
    check(
        "classified@10 dispatched:7@30 on_site@100 resolved@200 feedback@250",
        300,
        "c1 classify met start=0 due=60 done=10; c1 dispatch met start=10 due=70 done=30;
         c1 on_site met start=30 due=150 done=100; c1 close met start=100 due=340 done=250;
         closed; stage=done; team=7; category=heating",
    );
}

#[test]
fn completing_exactly_at_due_is_met() {
    check(
        "classified@60",
        61,
        "c1 classify met done=60; c1 dispatch pending start=60 due=120;
         c1 on_site not_started; c1 close not_started",
    );
}

#[test]
fn classify_late_shifts_the_next_stage() {
    check(
        "classified@70",
        80,
        "c1 classify late done=70; c1 dispatch pending start=70 due=130;
         c1 on_site not_started; c1 close not_started; stage=dispatch",
    );
}

#[test]
fn dispatch_late() {
    check(
        "classified@10 dispatched@80",
        90,
        "c1 classify met; c1 dispatch late due=70 done=80;
         c1 on_site pending start=80 due=200; c1 close not_started",
    );
}

#[test]
fn on_site_late() {
    check(
        "classified@10 dispatched@30 on_site@160",
        170,
        "c1 classify met; c1 dispatch met;
         c1 on_site late due=150 done=160; c1 close pending start=160 due=400; stage=close",
    );
}

#[test]
fn close_late() {
    check(
        "classified@10 dispatched@30 on_site@100 resolved@300 feedback@350",
        400,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close late due=340 done=350; closed",
    );
}

#[test]
fn dispatch_overdue_with_later_stages_not_started() {
    check(
        "classified@10",
        80,
        "c1 classify met; c1 dispatch overdue due=70;
         c1 on_site not_started; c1 close not_started; overdue_by=10; stage=dispatch",
    );
}

#[test]
fn on_site_due_soon_and_pending() {
    let events = "classified@10 dispatched@30";
    check(events, 119, "c1 classify met; c1 dispatch met; c1 on_site pending due=150; c1 close not_started");
    check(events, 120, "c1 classify met; c1 dispatch met; c1 on_site due_soon; c1 close not_started");
}

#[test]
fn bare_on_site_completes_classify_and_dispatch_at_its_time() {
    check(
        "on_site@20",
        30,
        "c1 classify met done=20; c1 dispatch met start=20 due=80 done=20;
         c1 on_site met start=20 due=140 done=20; c1 close pending start=20 due=260; stage=close",
    );
}

#[test]
fn dispatched_alone_implies_classified() {
    check(
        "dispatched:3@90",
        220,
        "c1 classify late done=90; c1 dispatch met start=90 done=90;
         c1 on_site overdue start=90 due=210; c1 close not_started; team=3; stage=on_site;
         overdue_by=10",
    );
}

#[test]
fn implied_stage_is_late_when_its_implying_event_is() {
    check(
        "resolved@200",
        210,
        "c1 classify late done=200; c1 dispatch met done=200;
         c1 on_site met done=200; c1 close pending start=200 due=440",
    );
}

#[test]
fn resolved_without_feedback_keeps_close_open() {
    check(
        "classified@10 dispatched@20 on_site@30 resolved@40",
        50,
        "c1 classify met; c1 dispatch met;
         c1 on_site met; c1 close pending start=30; open; stage=close",
    );
}

#[test]
fn feedback_without_resolved_keeps_close_open() {
    check(
        "classified@10 dispatched@20 on_site@30 feedback@40",
        50,
        "c1 classify met; c1 dispatch met;
         c1 on_site met; c1 close pending; open; stage=close",
    );
}

#[test]
fn close_completes_at_the_later_of_resolved_and_feedback() {
    let done_at_60 = "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met done=60; closed";
    check("on_site@10 resolved@20 feedback@60", 70, done_at_60);
    check("on_site@10 feedback@20 resolved@60", 70, done_at_60);
}

#[test]
fn resolved_and_feedback_alone_close_everything() {
    check(
        "feedback@20 resolved@30",
        40,
        "c1 classify met done=20; c1 dispatch met done=20;
         c1 on_site met done=20; c1 close met start=20 done=30; closed; stage=done",
    );
}

#[test]
fn a_volunteers_feedback_meets_no_desk_stage() {
    check(
        "~feedback@20",
        30,
        "c1 classify pending start=0 due=60; c1 dispatch not_started;
         c1 on_site not_started; c1 close not_started; open; stage=classify",
    );
}

#[test]
fn a_volunteers_feedback_counts_towards_close_once_the_desk_is_done() {
    check(
        "~feedback@20 classified@30 dispatched:7@40 on_site@50 resolved@70",
        80,
        "c1 classify met done=30; c1 dispatch met done=40; c1 on_site met done=50;
         c1 close met start=50 done=70; closed; team=7",
    );
}

#[test]
fn a_volunteers_feedback_after_resolution_closes_at_its_time() {
    check(
        "classified@10 dispatched@20 on_site@30 resolved@40 ~feedback@90",
        100,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met done=90; closed",
    );
}

#[test]
fn desk_events_written_by_a_volunteer_change_nothing() {
    let expected = format!("c1 classify overdue start=0 due=60; {UNTOUCHED}; category=heating; stage=classify");
    check("~classified:gas@10 ~dispatched:3@20 ~on_site@30", 70, &expected);
}

#[test]
fn a_volunteer_resolving_their_ticket_on_the_spot_meets_the_stages_to_on_site() {
    check(
        "~resolved@15 ~feedback@20",
        30,
        "c1 classify met done=15; c1 dispatch met done=15; c1 on_site met done=15;
         c1 close met start=15 done=20; closed",
    );
}

#[test]
fn resolved_on_the_spot_meets_every_stage_at_report_time() {
    let t = TicketFacts { resolved_on_the_spot: true, ..ticket() };
    check_with(
        &Policy::default(),
        &t,
        "",
        1000,
        "c1 classify met start=0 due=60 done=0;
         c1 dispatch met start=0 due=60 done=0; c1 on_site met start=0 due=120 done=0;
         c1 close met start=0 due=240 done=0; closed; stage=done; cycle=1",
    );
}

#[test]
fn reopen_after_on_the_spot_starts_cycle_two_at_dispatch() {
    let t = TicketFacts { resolved_on_the_spot: true, ..ticket() };
    check_with(
        &Policy::default(),
        &t,
        "reopened@100",
        110,
        "c1 classify met; c1 dispatch met;
         c1 on_site met; c1 close met; c2 dispatch pending start=100 due=160;
         c2 on_site not_started; c2 close not_started; open; stage=dispatch; cycle=2",
    );
}

#[test]
fn full_second_cycle() {
    check(
        "classified@10 dispatched:1@30 on_site@100 resolved@200 feedback@250
         reopened@300 dispatched:2@320 on_site@500 resolved@510 feedback@520",
        600,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met done=250;
         c2 dispatch met start=300 due=360 done=320; c2 on_site late start=320 due=440 done=500;
         c2 close met start=500 due=740 done=520; closed; stage=done; cycle=2; team=2",
    );
}

#[test]
fn a_new_cycle_needs_resolved_and_feedback_again() {
    check(
        "on_site@10 resolved@20 feedback@30 reopened@100 resolved@110",
        120,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met;
         c2 dispatch met done=110; c2 on_site met done=110; c2 close pending start=110; open; cycle=2",
    );
}

#[test]
fn reopen_while_open_is_ignored() {
    check(
        "classified@10 reopened@20",
        30,
        "c1 classify met; c1 dispatch pending start=10 due=70;
         c1 on_site not_started; c1 close not_started; cycle=1",
    );
}

#[test]
fn reopen_twice_opens_one_cycle() {
    check(
        "on_site@10 resolved@20 feedback@30 reopened@40 reopened@50",
        60,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met;
         c2 dispatch pending start=40; c2 on_site not_started; c2 close not_started; cycle=2",
    );
}

#[test]
fn third_cycle() {
    check(
        "resolved@10 feedback@10 reopened@20 feedback@30 resolved@40 reopened@50",
        60,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met done=10;
         c2 dispatch met done=30; c2 on_site met; c2 close met done=40;
         c3 dispatch pending start=50 due=110; c3 on_site not_started; c3 close not_started;
         cycle=3; stage=dispatch",
    );
}

#[test]
fn events_after_close_change_no_timing() {
    check(
        "on_site@10 resolved@20 feedback@30 classified@40 on_site@50 resolved@60 dispatched:4@70",
        80,
        "c1 classify met done=10; c1 dispatch met done=10; c1 on_site met done=10;
         c1 close met done=30; closed; team=4",
    );
}

fn with_overrides(overrides: Vec<Override>) -> Policy {
    Policy { overrides, ..Policy::default() }
}

fn windows(pairs: &[(Stage, i64)]) -> BTreeMap<Stage, i64> {
    pairs.iter().copied().collect()
}

#[test]
fn severity_override_shortens_windows_for_that_severity_only() {
    let policy = with_overrides(vec![Override {
        severity: Some(Severity::Urgent),
        stages: windows(&[(Stage::Classify, 900), (Stage::OnSite, 1800)]),
        ..Override::default()
    }]);
    let urgent = TicketFacts { severity: Severity::Urgent, ..ticket() };
    check_with(
        &policy,
        &urgent,
        "dispatched@10",
        20,
        "c1 classify met due=15; c1 dispatch met due=70;
         c1 on_site pending start=10 due=40; c1 close not_started",
    );
    check_with(
        &policy,
        &ticket(),
        "dispatched@10",
        20,
        "c1 classify met due=60; c1 dispatch met;
         c1 on_site pending due=130; c1 close not_started",
    );
}

#[test]
fn category_from_classified_sets_windows_of_later_stages() {
    let policy = with_overrides(vec![Override {
        category: Some("gas".to_owned()),
        stages: windows(&[(Stage::Classify, 600), (Stage::Dispatch, 600)]),
        ..Override::default()
    }]);
    // classify started under the reported category; dispatch starts after the reclassification.
    check_with(
        &policy,
        &ticket(),
        "classified:gas@10",
        15,
        "c1 classify met due=60;
         c1 dispatch pending start=10 due=20; c1 on_site not_started; c1 close not_started;
         category=gas",
    );
}

#[test]
fn reclassification_does_not_move_a_started_stage() {
    let policy = with_overrides(vec![Override {
        category: Some("gas".to_owned()),
        stages: windows(&[(Stage::Dispatch, 600), (Stage::OnSite, 600)]),
        ..Override::default()
    }]);
    check_with(
        &policy,
        &ticket(),
        "classified@10 classified:gas@20 dispatched@30",
        35,
        "c1 classify met done=10; c1 dispatch met due=70 done=30; c1 on_site pending start=30 due=40;
         c1 close not_started; category=gas",
    );
}

fn on_site(severity: Option<Severity>, category: Option<&str>, window_s: i64) -> Override {
    Override { severity, category: category.map(str::to_owned), stages: windows(&[(Stage::OnSite, window_s)]) }
}

const ON_SITE_FROM_0: &str = "classified:gas@0 dispatched@0";

#[test]
fn override_with_more_keys_wins_wherever_it_is_listed() {
    let policy = with_overrides(vec![
        on_site(Some(Severity::Urgent), Some("gas"), 600),
        on_site(Some(Severity::Urgent), None, 3600),
        on_site(None, Some("gas"), 1800),
    ]);
    let urgent = TicketFacts { severity: Severity::Urgent, ..ticket() };
    let due = |m| format!("c1 classify met; c1 dispatch met; c1 on_site pending due={m}; c1 close not_started");
    check_with(&policy, &urgent, ON_SITE_FROM_0, 1, &due(10));
    check_with(&policy, &urgent, "dispatched@0", 1, &due(60));
    check_with(&policy, &ticket(), ON_SITE_FROM_0, 1, &due(30));
    check_with(&policy, &ticket(), "dispatched@0", 1, &due(120));
}

#[test]
fn override_tie_goes_to_the_later_one() {
    let severity = on_site(Some(Severity::Urgent), None, 3600);
    let category = on_site(None, Some("gas"), 1800);
    let urgent = TicketFacts { severity: Severity::Urgent, ..ticket() };
    let due = |m| format!("c1 classify met; c1 dispatch met; c1 on_site pending due={m}; c1 close not_started");
    let policy = with_overrides(vec![severity.clone(), category.clone()]);
    check_with(&policy, &urgent, ON_SITE_FROM_0, 1, &due(30));
    let policy = with_overrides(vec![category, severity]);
    check_with(&policy, &urgent, ON_SITE_FROM_0, 1, &due(60));
}

#[test]
fn override_not_naming_a_stage_leaves_it_to_others() {
    let policy = with_overrides(vec![
        on_site(None, Some("gas"), 1800),
        Override {
            severity: Some(Severity::Urgent),
            category: Some("gas".to_owned()),
            stages: windows(&[(Stage::Close, 600)]),
        },
    ]);
    let urgent = TicketFacts { severity: Severity::Urgent, ..ticket() };
    check_with(
        &policy,
        &urgent,
        "classified:gas@0 dispatched@0 on_site@10",
        11,
        "c1 classify met; c1 dispatch met; c1 on_site met due=30; c1 close pending due=20",
    );
}

#[test]
fn redispatch_changes_team_not_timing() {
    check(
        "dispatched:1@20 dispatched:2@40",
        50,
        "c1 classify met done=20; c1 dispatch met done=20;
         c1 on_site pending start=20 due=140; c1 close not_started; team=2",
    );
}

#[test]
fn dispatched_without_team_keeps_the_team() {
    check(
        "dispatched:1@20 dispatched@40",
        50,
        "c1 classify met; c1 dispatch met; c1 on_site pending;
         c1 close not_started; team=1",
    );
}

#[test]
fn event_before_report_is_clamped_to_report_time() {
    check(
        "classified@-30",
        5,
        "c1 classify met start=0 done=0; c1 dispatch pending start=0 due=60;
         c1 on_site not_started; c1 close not_started",
    );
}

#[test]
fn comment_changes_nothing() {
    check("comment@10 comment@70", 80, &format!("c1 classify overdue due=60; {UNTOUCHED}; overdue_by=20"));
}

#[test]
fn duplicates_and_order_do_not_matter() {
    let expected = "c1 classify met done=10; c1 dispatch met done=30; c1 on_site pending start=30;
         c1 close not_started; team=5";
    check("classified#1@10 dispatched:5#2@30", 40, expected);
    check("dispatched:5#2@30 classified#1@10 classified#1@10 dispatched:5#2@30", 40, expected);
}

#[test]
fn first_classified_completes_classify() {
    check(
        "classified@10 classified@50",
        54,
        "c1 classify met done=10; c1 dispatch pending start=10;
         c1 on_site not_started; c1 close not_started",
    );
}

#[test]
fn events_fold_in_time_order_not_id_order() {
    check(
        "dispatched:5#1@30 classified#2@10",
        40,
        "c1 classify met done=10;
         c1 dispatch met start=10 done=30; c1 on_site pending start=30; c1 close not_started",
    );
}

#[test]
fn same_instant_ties_break_by_id() {
    // The reopen sorts first, while the cycle is still open, so it is ignored.
    check(
        "on_site@10 resolved@20 reopened#8@30 feedback#9@30",
        40,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met done=30; closed; cycle=1",
    );
    check(
        "on_site@10 resolved@20 reopened#9@30 feedback#8@30",
        40,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met done=30;
         c2 dispatch pending start=30; c2 on_site not_started; c2 close not_started; cycle=2",
    );
}

#[test]
fn conflicting_copies_of_one_id_resolve_the_same_in_any_order() {
    let a = common::events("classified#1@10 on_site#1@20");
    let b = common::events("on_site#1@20 classified#1@10");
    let now = common::at(30);
    let pa = fieldvisit_sync_protocol::deadline::project(&Policy::default(), &ticket(), &a, now);
    let pb = fieldvisit_sync_protocol::deadline::project(&Policy::default(), &ticket(), &b, now);
    assert_eq!(pa, pb);
    assert_eq!(pa.current_stage, Some(Stage::Dispatch), "one copy is kept: {pa:#?}");
}

#[test]
fn an_unsatisfied_callback_reopens_a_closed_ticket() {
    check(
        "on_site@10 resolved@20 feedback:satisfied@30 callback:unsatisfied@90",
        100,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met;
         c2 dispatch pending start=90 due=150; c2 on_site not_started; c2 close not_started; open; cycle=2",
    );
}

#[test]
fn a_satisfied_callback_keeps_the_ticket_closed() {
    check(
        "on_site@10 resolved@20 feedback@30 callback:satisfied@90 callback:neutral@95",
        100,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met; closed; stage=done; cycle=1",
    );
}

#[test]
fn a_callback_on_an_open_ticket_completes_nothing() {
    check(
        "classified@10 callback:unsatisfied@20 callback:satisfied@30",
        40,
        "c1 classify met; c1 dispatch pending start=10 due=70;
         c1 on_site not_started; c1 close not_started; cycle=1",
    );
}

#[test]
fn an_unsatisfied_callback_keeps_the_ticket_closed_when_the_policy_says_so() {
    check_with(
        &Policy { reopen_on_unsatisfied_callback: false, ..Policy::default() },
        &ticket(),
        "on_site@10 resolved@20 feedback@30 callback:unsatisfied@90",
        100,
        "c1 classify met; c1 dispatch met; c1 on_site met; c1 close met; closed; cycle=1",
    );
}
