//! The members table of the group page, with the controls the caller's role allows: changing
//! roles, removing, handing over ownership, and leaving. The rules mirror
//! `aicarpool::groups` (which enforces them); the page only hides what would be refused.

use aicarpool::model::{GroupRole, MemberView};
use leptos::prelude::*;

use crate::components::{DANGER, ErrorNote, SECONDARY, SELECT, Submit, format_time};
use crate::i18n::use_i18n;
use crate::pages::group::{GroupActions, Part};
use crate::server::groups::GroupDetails;

/// The roles the caller may give `target` (empty: no role control for that row).
pub fn assignable_roles(me: GroupRole, my_id: i64, target: &MemberView) -> Vec<GroupRole> {
    match me {
        GroupRole::Owner => vec![GroupRole::Member, GroupRole::Admin, GroupRole::Owner],
        GroupRole::Admin if target.role == GroupRole::Member || target.user_id == my_id => {
            vec![GroupRole::Member, GroupRole::Admin]
        }
        _ => Vec::new(),
    }
}

/// True when the caller may remove `target` (not themselves: that is leaving).
pub fn can_remove(me: GroupRole, my_id: i64, target: &MemberView) -> bool {
    target.user_id != my_id
        && (me == GroupRole::Owner || (me == GroupRole::Admin && target.role == GroupRole::Member))
}

/// True when the caller may make `target` the owner in their place.
pub fn can_transfer(me: GroupRole, my_id: i64, target: &MemberView) -> bool {
    me == GroupRole::Owner && target.user_id != my_id && target.role != GroupRole::Owner
}

/// The members table.
#[component]
pub fn MembersSection(details: GroupDetails, actions: GroupActions) -> impl IntoView {
    let i18n = use_i18n();
    let group_id = details.group.id;
    let me = details.my_role;
    let my_id = details.my_id;
    let is_member = details.group.role.is_some();
    let rows = details
        .members
        .into_iter()
        .map(|m| view! { <MemberRow group_id me my_id is_member member=m actions /> })
        .collect_view();
    view! {
        <section id="members" class="space-y-3">
            <h2 class="text-xl font-semibold">{move || i18n.t().members}</h2>
            <ErrorNote id="members-error" error=actions.error_for(Part::Members) />
            <div class="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
                <table id="member-list" class="w-full text-left text-sm">
                    <thead class="bg-slate-50 text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                        <tr>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().name_generic}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().email}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().role_label}</th>
                            <th class="px-4 py-2 font-medium">{move || i18n.t().joined}</th>
                            <th class="px-4 py-2 font-medium"><span class="sr-only">{move || i18n.t().actions}</span></th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-700">{rows}</tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

/// One member with their controls.
#[component]
fn MemberRow(
    group_id: i64,
    me: GroupRole,
    my_id: i64,
    is_member: bool,
    member: MemberView,
    actions: GroupActions,
) -> impl IntoView {
    let i18n = use_i18n();
    let is_self = member.user_id == my_id;
    let roles = assignable_roles(me, my_id, &member);
    let removable = can_remove(me, my_id, &member);
    let transferable = can_transfer(me, my_id, &member);
    let role = member.role;
    let user_id = member.user_id;
    let role_form = (!roles.is_empty()).then(|| {
        let options = roles
            .into_iter()
            .map(|r| {
                view! { <option value=r.as_str() selected=r == role>{move || i18n.t().role(r)}</option> }
            })
            .collect_view();
        view! {
            <ActionForm action=actions.change_role>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="user_id" value=user_id.to_string() />
                <div class="flex items-center gap-1">
                    <select name="role" data-test="member-role-select" aria-label=move || i18n.t().role_label class=SELECT>
                        {options}
                    </select>
                    <Submit label=|t| t.save pending=actions.change_role.pending() class=SECONDARY />
                </div>
            </ActionForm>
        }
    });
    let remove_form = removable.then(|| {
        view! {
            <ActionForm action=actions.remove>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="user_id" value=user_id.to_string() />
                <Submit label=|t| t.remove pending=actions.remove.pending() class=DANGER />
            </ActionForm>
        }
    });
    let transfer_form = transferable.then(|| {
        view! {
            <ActionForm action=actions.transfer>
                <input type="hidden" name="id" value=group_id.to_string() />
                <input type="hidden" name="user_id" value=user_id.to_string() />
                <Submit label=|t| t.make_owner pending=actions.transfer.pending() class=SECONDARY />
            </ActionForm>
        }
    });
    let leave_form = (is_self && is_member).then(|| view! {
        <ActionForm action=actions.leave>
            <input type="hidden" name="id" value=group_id.to_string() />
            <Submit id="leave-group" label=|t| t.leave_group pending=actions.leave.pending() class=DANGER />
        </ActionForm>
    });
    view! {
        <tr
            data-member-email=member.email.clone()
            data-user-id=user_id.to_string()
            data-role=role.as_str()
            aria-current=is_self.then_some("true")
        >
            <td class="px-4 py-2">
                {member.name.clone()}
                {is_self.then(|| view! { <span class="ml-1 text-xs text-slate-500">{move || i18n.t().you}</span> })}
            </td>
            <td class="px-4 py-2 text-slate-600 dark:text-slate-300">{member.email.clone()}</td>
            <td class="px-4 py-2" data-test="member-role">{move || i18n.t().role(role)}</td>
            <td class="px-4 py-2 text-slate-500">{format_time(member.joined_at)}</td>
            <td class="px-4 py-2">
                <div class="flex flex-wrap items-center justify-end gap-2">
                    {role_form}
                    {transfer_form}
                    {remove_form}
                    {leave_form}
                </div>
            </td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(user_id: i64, role: GroupRole) -> MemberView {
        MemberView {
            user_id,
            email: format!("u{user_id}@example.com"),
            name: format!("U{user_id}"),
            role,
            joined_at: 0,
        }
    }

    #[test]
    fn controls_follow_the_services_rules() {
        use GroupRole::*;
        // An admin manages members and themselves, never other admins or owners.
        assert_eq!(
            assignable_roles(Admin, 1, &member(2, Member)),
            [Member, Admin]
        );
        assert!(assignable_roles(Admin, 1, &member(2, Admin)).is_empty());
        assert!(assignable_roles(Admin, 1, &member(2, Owner)).is_empty());
        assert_eq!(
            assignable_roles(Admin, 1, &member(1, Admin)),
            [Member, Admin]
        );
        assert!(can_remove(Admin, 1, &member(2, Member)));
        assert!(!can_remove(Admin, 1, &member(2, Admin)));
        // Owners do everything, but remove or hand over to themselves.
        assert_eq!(assignable_roles(Owner, 1, &member(2, Admin)).len(), 3);
        assert!(can_remove(Owner, 1, &member(2, Owner)));
        assert!(!can_remove(Owner, 1, &member(1, Owner)));
        assert!(can_transfer(Owner, 1, &member(2, Member)));
        assert!(!can_transfer(Owner, 1, &member(2, Owner)));
        // Members see no controls on others.
        assert!(assignable_roles(Member, 1, &member(2, Member)).is_empty());
        assert!(!can_remove(Member, 1, &member(2, Member)));
        assert!(!can_transfer(Admin, 1, &member(2, Member)));
    }
}
