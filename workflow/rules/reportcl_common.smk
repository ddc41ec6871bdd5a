# Constants and input functions of the reportcl rules (workflow/rules/reportcl.smk).
