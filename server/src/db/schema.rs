// One schema for both backends: ids are TEXT (UUID strings), instants BIGINT epoch milliseconds.

diesel::table! {
    areas (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        kind -> Text,
        name -> Text,
        path -> Text,
        depth -> Integer,
        created_at -> BigInt,
        seq -> BigInt,
    }
}

diesel::table! {
    teams (id) {
        id -> Text,
        name -> Text,
        area_id -> Text,
        area_path -> Text,
        categories -> Text,
        created_at -> BigInt,
        seq -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        display_name -> Text,
        role -> Text,
        area_id -> Text,
        area_path -> Text,
        team_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        active -> Bool,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        user_id -> Text,
        area_path -> Text,
        name -> Nullable<Text>,
        app_version -> Nullable<Text>,
        first_seen_at -> BigInt,
        last_seen_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        device_id -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoke_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        parent_hash -> Nullable<Text>,
        voided_at -> Nullable<BigInt>,
        access_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        action -> Text,
        actor_user_id -> Nullable<Text>,
        actor_username -> Nullable<Text>,
        device_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        area_path -> Text,
        detail -> Text,
    }
}

diesel::table! {
    change_seq (id) {
        id -> Integer,
        value -> BigInt,
    }
}

diesel::table! {
    policies (version) {
        version -> Integer,
        body -> Text,
        created_at -> BigInt,
        created_by -> Nullable<Text>,
        county_id -> Nullable<Text>,
    }
}

diesel::table! {
    households (id) {
        id -> Text,
        area_id -> Text,
        area_path -> Text,
        address -> Text,
        head_name -> Text,
        phone -> Nullable<Text>,
        heating -> Text,
        tags -> Text,
        version -> BigInt,
        updated_at -> BigInt,
        received_at -> BigInt,
        created_by -> Text,
        seq -> BigInt,
        last_visited_at -> Nullable<BigInt>,
        visit_count -> BigInt,
        dedup_key -> Nullable<Text>,
        last_measured_at -> Nullable<BigInt>,
        last_temp_c -> Nullable<Double>,
        county_id -> Text,
    }
}

diesel::table! {
    household_versions (household_id, version) {
        household_id -> Text,
        version -> BigInt,
        fields -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    visits (id) {
        id -> Text,
        household_id -> Text,
        area_id -> Text,
        area_path -> Text,
        visited_at -> BigInt,
        device_visited_at -> BigInt,
        received_at -> BigInt,
        clock_verified -> Bool,
        indoor_temp_c -> Nullable<Double>,
        checklist -> Text,
        service_card_given -> Nullable<Bool>,
        notes -> Nullable<Text>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        photos -> Text,
        user_id -> Text,
        device_id -> Text,
        content_hash -> Text,
        seq -> BigInt,
        checklist_template_id -> Nullable<Text>,
        checklist_template_version -> Nullable<Integer>,
        county_id -> Text,
    }
}

diesel::table! {
    tickets (id) {
        id -> Text,
        household_id -> Text,
        visit_id -> Nullable<Text>,
        area_id -> Text,
        area_path -> Text,
        category -> Text,
        severity -> Text,
        description -> Text,
        reported_at -> BigInt,
        device_reported_at -> BigInt,
        received_at -> BigInt,
        clock_verified -> Bool,
        resolved_on_the_spot -> Bool,
        photos -> Text,
        reporter_id -> Text,
        device_id -> Text,
        content_hash -> Text,
        policy_version -> Integer,
        status -> Text,
        stage -> Text,
        team_id -> Nullable<Text>,
        effective_category -> Text,
        projection -> Text,
        current_due_at -> Nullable<BigInt>,
        next_deadline_at -> Nullable<BigInt>,
        closed_at -> Nullable<BigInt>,
        last_event_received_at -> Nullable<BigInt>,
        version -> BigInt,
        seq -> BigInt,
        stage_times -> Text,
        latest_satisfaction -> Nullable<Text>,
        county_id -> Text,
    }
}

diesel::table! {
    temperature_tally (area_path, day, tenths) {
        area_path -> Text,
        day -> BigInt,
        tenths -> Integer,
        visits -> BigInt,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> Text,
        ticket_id -> Text,
        area_path -> Text,
        event_type -> Text,
        occurred_at -> BigInt,
        device_occurred_at -> BigInt,
        received_at -> BigInt,
        clock_verified -> Bool,
        category -> Nullable<Text>,
        team_id -> Nullable<Text>,
        note -> Nullable<Text>,
        satisfaction -> Nullable<Text>,
        user_id -> Text,
        device_id -> Text,
        content_hash -> Text,
        seq -> BigInt,
        author_role -> Text,
        county_id -> Text,
    }
}

diesel::table! {
    removals (seq) {
        seq -> BigInt,
        record_type -> Text,
        record_id -> Text,
        team_id -> Nullable<Text>,
        area_path -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    sync_batches (batch_id) {
        batch_id -> Text,
        user_id -> Text,
        device_id -> Text,
        received_at -> BigInt,
        response -> Text,
    }
}

diesel::table! {
    blobs (sha256) {
        sha256 -> Text,
        size -> BigInt,
        content_type -> Text,
        uploader_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    record_photos (sha256, record_type, record_id) {
        sha256 -> Text,
        record_type -> Text,
        record_id -> Text,
        area_path -> Text,
        author_id -> Text,
    }
}

diesel::table! {
    alerts (id) {
        id -> BigInt,
        ticket_id -> Text,
        kind -> Text,
        stage -> Text,
        cycle -> Integer,
        level -> Integer,
        due_at -> BigInt,
        at -> BigInt,
        fired_at -> BigInt,
        area_path -> Text,
        team_id -> Nullable<Text>,
        payload -> Nullable<Text>,
        county_id -> Text,
    }
}

diesel::table! {
    channels (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        area_id -> Text,
        area_path -> Text,
        url -> Text,
        secret -> Nullable<Text>,
        teams -> Text,
        alert_types -> Text,
        min_level -> Integer,
        enabled -> Bool,
        enqueued_to -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    channel_outbox (channel_id, alert_id) {
        channel_id -> Text,
        alert_id -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    blob_uploaders (sha256, user_id) {
        sha256 -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(channel_outbox -> alerts (alert_id));
diesel::joinable!(teams -> areas (area_id));
diesel::joinable!(households -> areas (area_id));
diesel::joinable!(visits -> households (household_id));
diesel::joinable!(tickets -> households (household_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(users -> areas (area_id));
diesel::joinable!(users -> teams (team_id));
diesel::joinable!(devices -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(sessions -> devices (device_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(areas, teams, users, devices, sessions, refresh_tokens, audit_log,);
diesel::allow_tables_to_appear_in_same_query!(alerts, tickets, households, visits, ticket_events, channel_outbox);
diesel::allow_tables_to_appear_in_same_query!(record_photos, blob_uploaders);
diesel::allow_tables_to_appear_in_same_query!(temperature_tally, areas);

diesel::table! {
    checklist_templates (id, version) {
        id -> Text,
        version -> Integer,
        county_id -> Nullable<Text>,
        name -> Text,
        active -> Bool,
        items -> Text,
        created_at -> BigInt,
        created_by -> Nullable<Text>,
        seq -> BigInt,
    }
}

diesel::table! {
    checklist_tallies (template_id, day, area_path, item, answer) {
        template_id -> Text,
        area_path -> Text,
        day -> Integer,
        item -> Text,
        answer -> Text,
        visits -> BigInt,
    }
}
