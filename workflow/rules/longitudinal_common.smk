# Constants and input functions of the longitudinal rules (workflow/rules/longitudinal.smk).
