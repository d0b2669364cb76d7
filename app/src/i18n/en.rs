//! The English strings.

use super::Texts;

/// English.
pub static EN: Texts = Texts {
    app_name: "AiCarpool",
    tagline: "Share AI accounts across your team, fairly and visibly",
    nav_home: "Overview",
    nav_status: "Status",
    nav_label: "Main navigation",
    language: "Language",
    loading: "Loading…",
    setup_title: "Welcome to AiCarpool",
    setup_intro: "No administrator exists yet. Create the first one to take charge of this instance.",
    setup_token: "Setup token",
    setup_token_help: "Printed in the server log at start-up (look for “setup token:”). It proves you run this server.",
    email: "Email",
    name: "Display name",
    password: "Password",
    password_confirm: "Repeat password",
    show_password: "Show",
    hide_password: "Hide",
    setup_submit: "Create administrator",
    setup_submitting: "Creating…",
    ready_title: "AiCarpool is ready",
    ready_intro: "The first administrator exists. Sign in or register to create carpool groups and invite your team.",
    status_title: "Instance status",
    status_version: "Version",
    status_database: "Database",
    status_counters: "Counters",
    status_mail: "Mail",
    status_users: "Users",
    status_uptime: "Uptime",
    counters_memory: "in memory (single node)",
    counters_redis: "Redis (shared by all nodes)",
    mail_smtp: "SMTP",
    mail_outbox: "outbox log (no SMTP configured)",
    setup_pending_note: "Waiting for the first administrator: open the overview page to finish setup.",
    not_found_title: "Page not found",
    not_found_body: "There is nothing at this address.",
    back_home: "Back to the overview",
    err_token: "The setup token is wrong. Copy it from the server log.",
    err_setup_done: "This instance is already set up.",
    err_unavailable: "The database is not reachable right now. Try again in a moment.",
    err_internal: "Something went wrong on the server; its log has the details.",
    err_network: "The server could not be reached. Check your connection and try again.",
    fe_required: "Required.",
    fe_email: "Enter an email address like ada@example.com.",
    fe_control: "Remove the control characters.",
    fe_mismatch: "The passwords differ.",
    fe_too_short: |n| format!("At least {n} characters."),
    fe_too_long: |n| format!("At most {n} characters."),
    uptime: |s| format!("{}h {}m {}s", s / 3600, s % 3600 / 60, s % 60),
    working: "Working…",
    save: "Save",
    saved: "Saved.",
    remove: "Remove",
    revoke: "Revoke",
    actions: "Actions",
    state: "State",
    expires: "Expires",
    never: "never",
    unlimited: "unlimited",
    you: "(you)",
    copy: "Copy",
    copied: "Copied",
    copy_failed: "Press Ctrl+C",
    link_shown_once: "Shown only now: copy it before you leave this page.",
    nav_groups: "My groups",
    nav_profile: "Profile",
    sign_in: "Sign in",
    register: "Register",
    sign_out: "Sign out",
    sign_in_needed_title: "Please sign in",
    sign_in_needed_body: "This page is for signed-in users. Sign in or create an account, and you come right back here.",
    login_title: "Sign in",
    no_account: "No account yet?",
    have_account: "Already have an account?",
    register_title: "Create your account",
    register_intro: "With an account you can create carpool groups or join the ones you are invited to.",
    name_generic: "Name",
    current_password: "Current password",
    new_password: "New password",
    groups_title: "My groups",
    groups_empty: "You are not in any group yet. Create one below, or ask for an invitation.",
    create_group: "Create group",
    group_name: "Group name",
    group_description: "Description (optional)",
    member_count: |n| {
        if n == 1 {
            "1 member".to_owned()
        } else {
            format!("{n} members")
        }
    },
    your_role: "Your role",
    not_a_member_admin: "not a member (system administrator)",
    role_label: "Role",
    role_member: "Member",
    role_admin: "Admin",
    role_owner: "Owner",
    edit_group: "Edit name and description",
    members: "Members",
    joined: "Joined",
    make_owner: "Make owner (you become admin)",
    leave_group: "Leave group",
    danger_zone: "Danger zone",
    delete_group: "Delete group…",
    delete_group_warning: "Deleting the group removes its members, invitations and links for good. This cannot be undone.",
    delete_group_confirm: "I understand: delete this group for good.",
    delete_group_for_good: "Delete for good",
    invitations: "Email invitations",
    invite_email: "Email address to invite",
    send_invitation: "Send invitation",
    invitation_link_for: "Invitation link for",
    invitation_link: "Accept link (also sent by mail)",
    no_invitations: "No invitations yet.",
    delivery: "Mail",
    new_link: "New link",
    inv_pending: "pending",
    inv_accepted: "accepted",
    inv_revoked: "revoked",
    inv_expired: "expired",
    link_active: "active",
    link_exhausted: "used up",
    delivery_sent: "sent",
    delivery_queued: "queued",
    delivery_retrying: |n, e| {
        if e.is_empty() {
            format!("retrying: {n} attempts")
        } else {
            format!("retrying: {n} attempts, last error: {e}")
        }
    },
    invite_links: "Invite links",
    invite_links_intro: "Anyone with the link can join after signing in, until it expires or is used up.",
    max_uses: "Max uses",
    expires_in_hours: "Expires after (hours)",
    create_link: "Create link",
    invite_link: "New invite link",
    uses: "Uses",
    no_links: "No invite links yet.",
    invite_heading: |who, group| format!("{who} invited you to join “{group}”"),
    invited_email: "For",
    invite_sign_in_first: "Sign in or create an account to accept. Accepting does not sign you in by itself.",
    invite_have_account: "I have an account",
    invite_new_account: "I am new here",
    invite_wrong_account: |invited, me| {
        format!(
            "This invitation is for {invited}, but you are signed in as {me}. Sign out, then sign in or register as {invited}."
        )
    },
    invite_accept_as: |name| format!("Signed in as {name}."),
    accept_invitation: "Accept invitation",
    unusable_accepted: "This invitation has already been accepted. Ask for a new one if you still need to join.",
    unusable_revoked: "This invitation was revoked by the group. Ask for a new one.",
    unusable_expired: "This invitation has expired. Ask for a new one.",
    unusable_exhausted: "This invite link has been used as often as allowed. Ask for a new one.",
    invite_not_found_title: "Invitation not found",
    invite_not_found_body: "This invitation link is not valid. Check that you copied all of it, or ask for a new one.",
    profile_title: "Profile",
    profile_details: "Name and language",
    change_password: "Change password",
    password_changed: "Password changed. Every other session of your account has been signed out; this browser stays signed in.",
    password_change_note: "Changing the password signs your account out everywhere else.",
    err_credentials: "Wrong email or password.",
    err_rate_limited: |s| format!("Too many failed attempts. Try again in {s} s."),
    err_unauthenticated: "Your session has ended. Sign in again.",
    err_current_password: "The current password is wrong.",
    err_forbidden: "You are not allowed to do this.",
    err_not_found: "Not found: it does not exist or you cannot see it.",
    err_conflict: "This conflicts with the current state.",
    err_gone: "This can no longer be used.",
    err_invalid: "Check the form: a value is not accepted.",
    with_detail: |_, detail| english_sentence(detail),
};

/// The server's English detail as a sentence: a leading plain word capitalised (never an email
/// address or a name), and a full stop.
fn english_sentence(detail: &str) -> String {
    let first_word = detail.split(' ').next().unwrap_or("");
    let mut out = if first_word.bytes().all(|b| b.is_ascii_lowercase()) {
        let mut chars = detail.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    } else {
        detail.to_owned()
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
