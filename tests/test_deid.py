"""De-identification: the PS3.15 table, the header allow-list, free-text cleaning and report scrubbing."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from mrissl.deid import clean_descriptor_tags, identifying_values, is_identifying, redactor, scrub_report
from mrissl.ingest import HEADER_SOURCES, acquisition_fields


def tag_of(keyword: str) -> Tag:
    return Tag(pydicom.datadict.tag_for_keyword(keyword))


@pytest.mark.parametrize("keyword", [
    "PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName", "InstitutionAddress",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "StationName", "DeviceSerialNumber",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID", "FrameOfReferenceUID", "SeriesDescription", "ProtocolName",
])
def test_the_profile_lists_what_identifies(keyword):
    assert is_identifying(tag_of(keyword))


def test_private_attributes_and_masked_groups_identify():
    assert is_identifying(Tag(0x0043, 0x1039)) and is_identifying(Tag(0x0019, 0x100C))
    assert is_identifying(Tag(0x6002, 0x4000))  # overlay comments of any overlay group (60xx,4000)
    assert not is_identifying(tag_of("RepetitionTime")) and not is_identifying(tag_of("Manufacturer"))


def test_header_allow_list_keeps_no_identifying_attribute_but_cleaned_descriptors():
    descriptors = clean_descriptor_tags()
    assert {tag_of("SeriesDescription"), tag_of("ProtocolName"), tag_of("ImageComments")} <= descriptors
    kept_identifying = {k for k in HEADER_SOURCES.values() if is_identifying(tag_of(k))}
    assert kept_identifying == {"SeriesDescription", "ProtocolName"}
    assert all(tag_of(k) in descriptors for k in kept_identifying)


def test_identifying_values_cover_sequences_and_file_meta_but_not_descriptors_or_private_values():
    ds = Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.OperatorsName = "Roe^Rita"
    ds.StationName = "MRC35104"
    ds.PatientWeight = 72.5
    ds.SeriesDescription = "t1_se_tra"  # a descriptor: cleaned, never used to clean
    ds.RepetitionTime = 500.0  # not identifying
    item = Dataset()
    item.CodeMeaning = "Saint Hidden Hospital"  # any value inside a listed sequence
    ds.InstitutionCodeSequence = [item]
    ds.private_block(0x0009, "GEMS_IDEN_01", create=True).add_new(0x02, "SH", "SUITE7")
    assert identifying_values([ds]) == ["1.2.3.4", "72.5", "MRC35104", "Roe^Rita", "Saint Hidden Hospital"]


def test_only_descriptors_are_cleaned_coded_values_stay_whole():
    ds = Dataset()
    ds.InstitutionName, ds.Manufacturer = "Lakeshore Medical Center", "GE MEDICAL SYSTEMS"
    ds.SeriesDescription, ds.ImageType = "Lakeshore AX T2 FSE", ["ORIGINAL", "PRIMARY", "OTHER"]
    fields = acquisition_fields(ds, redactor(identifying_values([ds])))
    assert fields["manufacturer"] == "GE MEDICAL SYSTEMS"
    assert fields["image_type"] == "ORIGINAL\\PRIMARY\\OTHER"
    assert "Lakeshore" not in fields["series_description"] and "AX T2 FSE" in fields["series_description"]


def test_redactor_removes_whole_words_in_any_case():
    redact = redactor(["DOE^JOHN", "MRC35104", "Saint Hidden Hospital"])
    assert redact("T1 john doe mrc35104 Hospital") == "T1 [redacted] [redacted] [redacted] [redacted]"
    assert redact("T1 JOHNSON DOEx") == "T1 JOHNSON DOEx"  # parts of other words stay


@pytest.mark.parametrize("report, expected", [
    ("MRI BRAIN 12/03/2019. Patient: John SMITH, MRN: 00123456. 45-year-old man. Acute infarct in the left "
     "MCA territory, lesion 12 mm, restricted diffusion at b=1000. Reported by Dr. Jane Doe on 14 March 2019 at 14:32.",
     "MRI BRAIN [date]. Patient: [name], MRN: [id]. 45-year-old man. Acute infarct in the left MCA territory, "
     "lesion 12 mm, restricted diffusion at b=1000. Reported by [name] on [date] at [time]."),
    ("Name: DOE^JANE  DOB: 1961-04-17  Accession No. ACC-5550192. Comparison: MRI brain dated March 4, 2018. "
     "Diagnosed Jun 2015. IDH1-mutant glioma in a 6-month-old girl.",
     "Name: [name]  DOB: [date]  Accession No. [id]. Comparison: MRI brain dated [date]. "
     "Diagnosed [date]. IDH1-mutant glioma in a 6-month-old girl."),
    ("Findings discussed with Prof. Alan Turing at 3:15 pm, phone 0161 496 0000, a.turing@example.org. "
     "Study 20190312, hospital no. H1234567.",
     "Findings discussed with [name] at [time], phone [id], [id]. Study [date], hospital no. [id]."),
])
def test_report_scrubbing_removes_names_dates_and_record_numbers(report, expected):
    assert scrub_report(report) == expected


@pytest.mark.parametrize("clinical", [
    "Ill-defined T2/FLAIR hyperintense mass in the left frontal lobe with surrounding vasogenic oedema, likely glioma.",
    "Mild periventricular white matter changes (Fazekas grade I). No acute infarct. Page 1 of 1",
    "Extra-axial mass 23 x 18 x 20 mm at the right sphenoid wing; b=1000 and ADC 0.6 x 10^-3 mm2/s. Seen in 2019.",
    "Sellar and suprasellar lesion indenting on inferior aspect of optic chiasma. Suggest: Post contrast imaging.",
    "78-year-old woman, aged 78, may represent demyelination; 3 lesions, the largest 12 mm.",
])
def test_report_scrubbing_keeps_clinical_wording_numbers_and_ages(clinical):
    assert scrub_report(clinical) == clinical
