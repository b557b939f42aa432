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

diesel::joinable!(teams -> areas (area_id));
diesel::joinable!(users -> areas (area_id));
diesel::joinable!(users -> teams (team_id));
diesel::joinable!(devices -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(sessions -> devices (device_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(areas, teams, users, devices, sessions, refresh_tokens, audit_log,);
