//! The nine permission names of the original (spec §3.1), spelling included.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    IndicateInterest,
    ModifyUserProfil,
    ViewRecommendation,
    PlayMusic,
    AddContent,
    AccessSandbox,
    ModifyContent,
    ValidateAddedContent,
    DeleteContent,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::IndicateInterest => "indicate_interest",
            Permission::ModifyUserProfil => "modify_user_profil",
            Permission::ViewRecommendation => "view_recommendation",
            Permission::PlayMusic => "play_music",
            Permission::AddContent => "add_content",
            Permission::AccessSandbox => "access_sandbox",
            Permission::ModifyContent => "modify_content",
            Permission::ValidateAddedContent => "validate_added_content",
            Permission::DeleteContent => "delete_content",
        }
    }
}
