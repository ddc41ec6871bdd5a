"""reportcl (paper 001): tumour-location-weighted MRI-report contrastive learning on paediatric tumours.

- ``curation`` (FLAIR volumes and masks, folds, cohort table), ``reports`` (report cleaning, tokens);
- ``models`` (3D ResNet-18 in MedicalNet's layout with self-attention, text encoder, heads,
  cross-attention), ``medicalnet`` (checkpoints, the MedicalNet-like init), ``losses`` (location-weighted
  triplet, local, uncertainty weighting), ``train`` (pretraining on cached frozen outputs);
- ``downstream`` (BRAF fusion vs V600E, 5-fold CV), ``explain`` (attention Dice), ``stats`` (paired
  t-tests) and ``figures``.
"""
