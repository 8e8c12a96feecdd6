"""marketplace-leads: Microsoft commercial marketplace leads → Azure Table → Dynamics 365 + email."""
