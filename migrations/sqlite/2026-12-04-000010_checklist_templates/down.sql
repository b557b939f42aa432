DROP TABLE checklist_templates;
